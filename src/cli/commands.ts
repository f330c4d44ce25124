// Every CLI command. A new command is one module in this folder that calls registerCommand,
// plus its import line here.
import './bench.js';
import './dump.js';
import './embed.js';
import './help.js';
import './rerank.js';
import './verify.js';
import './generate.js';
import './info.js';
import './logits.js';
import './compile.js';
import './test-ops.js';
import './cache.js';
import './chat.js';
