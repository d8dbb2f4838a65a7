#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm ci` through `prepare`).
import { main } from '../dist/operator/cli/main.js';
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
