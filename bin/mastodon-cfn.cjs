#!/usr/bin/env node
// Runs the CLI bundle with a V8 code cache (see scripts/bundle.mjs): a cold start skips parsing it.
// The cache is made on the first run and made again whenever V8 rejects it (another Node version);
// a cache that cannot be written (a read-only install) only costs speed.
'use strict';
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { join } = require('node:path');
const vm = require('node:vm');

const bundle = join(__dirname, '../dist/bundle/cli.js');
const cacheFile = join(__dirname, '../dist/bundle/cli.cache');
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
// esbuild writes ASCII only (it escapes the rest), so latin1 reads it exactly, without UTF-8 decoding.
const script = new vm.Script(wrap(readFileSync(bundle, 'latin1')), { filename: bundle, cachedData });
if (cachedData === undefined || script.cachedDataRejected) {
  process.once('exit', () => {
    try {
      const temporary = `${cacheFile}.${process.pid}`;
      writeFileSync(temporary, script.createCachedData());
      renameSync(temporary, cacheFile);
    } catch {
      // Not writable: the next run parses the bundle again.
    }
  });
}
const module_ = { exports: {} };
script.runInThisContext()(module_.exports, createRequire(bundle), module_, bundle, join(__dirname, '../dist/bundle'));
module_.exports.main(process.argv).then((code) => {
  process.exitCode = code;
});
