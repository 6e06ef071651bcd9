#!/usr/bin/env node
// Runs the built agent (dist/, made by `npm ci` through the prepare script).
import { main } from '../dist/agent/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
