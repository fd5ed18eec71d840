#!/usr/bin/env node
import { main } from '../dist/mastodon-cfn.js';

process.exitCode = await main(process.argv);
