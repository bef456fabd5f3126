// Runs pytest inside real Pyodide (npm `pyodide`, the Python Worker's runtime) in Node 22.
//
//   node --experimental-wasm-jspi run.mjs <config.json>
//
// The config (written by tests/pyodide/tier.py) names the npm pyodide folder, the host
// folders to mount at the same paths (the repository, the vendored packages), the entries
// to put first on sys.path and pytest's arguments. The repository is mounted with NODEFS, so
// pytest reads the working tree as it is; /tmp stays Pyodide's in-memory file system.
//
// JSPI (WebAssembly stack switching) is what lets Python block on a coroutine
// (pyodide.ffi.run_sync): V8 12.4 in Node 22 has it behind --experimental-wasm-jspi. The
// entry point runs through runPythonAsync, the promising entry JSPI needs.
import { readFileSync, writeSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { loadPyodide } = await import(pathToFileURL(path.join(config.pyodide, "pyodide.mjs")).href);

const pyodide = await loadPyodide({
  indexURL: config.pyodide + "/",
  // asyncio.run / loop.run_until_complete block through run_sync instead of returning a
  // future (only possible with JSPI).
  enableRunUntilComplete: true,
  env: { HOME: "/home/pyodide", PYTHONHASHSEED: "0", ...config.env },
});

// Raw writes: pytest's progress dots arrive as they are flushed, not one per line.
const raw = (fd) => ({ write: (bytes) => writeSync(fd, bytes), isatty: false });
pyodide.setStdout(raw(1));
pyodide.setStderr(raw(2));

for (const dir of config.mounts) {
  pyodide.FS.mkdirTree(dir);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: dir }, dir);
}
pyodide.FS.chdir(config.cwd);

pyodide.globals.set("helix_tier_config", pyodide.toPy(config));
let code;
try {
  code = await pyodide.runPythonAsync(`
import sys
sys.dont_write_bytecode = True  # keep CPython 3.14 .pyc files out of the working tree
sys.path[:0] = helix_tier_config["sys_path"]
from tests.pyodide.bootstrap import main
main(list(helix_tier_config["pytest_args"]))
`);
} catch (err) {
  process.stderr.write(`pyodide tier: the runner failed: ${err}\n`);
  code = 3;
}
process.exit(typeof code === "number" ? code : 3);
