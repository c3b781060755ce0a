/**
 * The whole test suite, as `npm test` runs it: type-check, lint, then the same test files
 * under Node, Bun and Deno against one real PostgreSQL, started here once and shared
 * through TEST_DATABASE_URL (each test file makes its own scratch databases on it).
 *
 * Usage: npm test [-- --runtime node|bun|deno] [-- test/file.test.ts ...]
 */

import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import process from "node:process";
import { startTestDatabase } from "../test/support/database.ts";

interface Step {
  name: string;
  command: string[];
  /** Reads the passed and failed counts from the runner's output. */
  count?: (output: string) => { passed: number; failed: number };
}

const lastNumber = (output: string, pattern: RegExp): number => {
  const matches = [...output.matchAll(pattern)];
  const last = matches.at(-1);
  return last === undefined ? 0 : Number(last[1]);
};

const run = (step: Step, env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> =>
  new Promise((resolve) => {
    const [command, ...args] = step.command as [string, ...string[]];
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const forward = (target: NodeJS.WriteStream) => (chunk: Buffer) => {
      output += chunk.toString();
      target.write(chunk);
    };
    child.stdout.on("data", forward(process.stdout));
    child.stderr.on("data", forward(process.stderr));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });

const args = process.argv.slice(2);
const runtimeIndex = args.indexOf("--runtime");
const onlyRuntime = runtimeIndex === -1 ? undefined : args[runtimeIndex + 1];
const files = args.filter(
  (arg, index) => arg.endsWith(".ts") && (runtimeIndex === -1 || index !== runtimeIndex + 1),
);
const testFiles = files.length > 0 ? files : ["test/"];

// Node 20's test runner takes no globs, so the files are listed here.
const nodeFiles =
  files.length > 0
    ? files
    : readdirSync("test")
        .filter((name) => name.endsWith(".test.ts"))
        .map((name) => `test/${name}`);

const steps: Step[] = (
  [
    { name: "type-check", command: ["npx", "tsc", "--noEmit", "-p", "."] },
    { name: "lint", command: ["npx", "biome", "check", "."] },
    {
      name: "node",
      command: ["npx", "tsx", "--test", "--test-concurrency=1", ...nodeFiles],
      count: (output) => ({
        passed: lastNumber(output, /^# pass (\d+)/gm),
        failed: lastNumber(output, /^# fail (\d+)/gm),
      }),
    },
    {
      name: "bun",
      command: ["npx", "bun", "test", "--timeout", "120000", ...testFiles.map((f) => `./${f}`)],
      count: (output) => ({
        passed: lastNumber(output, /^\s*(\d+) pass$/gm),
        failed: lastNumber(output, /^\s*(\d+) fail$/gm),
      }),
    },
    {
      name: "deno",
      command: [
        "npx",
        "deno",
        "test",
        "--unstable-no-legacy-abort",
        "-A",
        "--no-check",
        ...testFiles,
      ],
      count: (output) => {
        // Deno counts node:test tests as steps: "ok | 3 passed (40 steps) | 0 failed (2 steps)".
        // NO_COLOR is set for the runners, so the summary has no escape codes.
        const clean = output;
        const summary = clean.match(
          /\| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/,
        );
        if (summary === null) return { passed: 0, failed: 1 };
        return {
          passed: Number(summary[2] ?? summary[1]),
          failed: Number(summary[4] ?? summary[3]),
        };
      },
    },
  ] as Step[]
).filter((step) => onlyRuntime === undefined || !step.count || step.name === onlyRuntime);

const database = await startTestDatabase();
process.stderr.write(`test database: ${database.kind}\n`);

let passed = 0;
let failed = 0;
const failures: string[] = [];
try {
  for (const step of steps) {
    process.stderr.write(`\n=== ${step.name} ===\n`);
    const env = { ...process.env, TEST_DATABASE_URL: database.url, NO_COLOR: "1" };
    const result = await run(step, env);
    const counts = step.count?.(result.output);
    if (counts !== undefined) {
      passed += counts.passed;
      failed += counts.failed;
      process.stderr.write(`${step.name}: ${counts.passed} passed, ${counts.failed} failed\n`);
    }
    if (result.code !== 0) failures.push(step.name);
  }
} finally {
  await database.stop();
}

if (failures.length > 0) {
  process.stderr.write(`\nfailed steps: ${failures.join(", ")}\n`);
  if (failed === 0) failed = failures.length;
}
process.stdout.write(`\ntotal: ${passed} passed, ${failed} failed\n`);
process.exit(failures.length > 0 ? 1 : 0);
