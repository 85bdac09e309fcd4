#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm run build, or npm start, builds it).
import { main } from '../dist/src/main/cli.js';

await main(process.argv);
