// The engine worker's script (tessera/web/worker): bundle it beside the page's script and give its
// URL to WorkerModel.open / WorkerEncoder.open. It serves the page that starts it (worker-host.ts).
import { serveEngine } from './worker-host.js';

serveEngine();
