#!/usr/bin/env node
// The agency-side tools, built (dist/ is made by `npm ci` through the prepare script, or `npm run build`).
import '../dist/scripts/agency/entry.js';
