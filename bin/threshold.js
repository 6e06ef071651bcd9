#!/usr/bin/env node
// The built agent (dist/ is made by `npm ci` through the prepare script, or `npm run build`).
import '../dist/agent/cli/entry.js';
