// Prints the failed tests of a Playwright JSON report, each with the first lines of its
// error, so the end of a CI log says what failed and why (scripts/e2e.sh runs it on failure).
const { readFileSync } = require("node:fs");

const report = JSON.parse(readFileSync(process.argv[2], "utf8"));
const strip = (text) => text.replace(/\u001b\[[0-9;]*m/g, "");

function* specs(suite, titles) {
  for (const spec of suite.specs ?? []) yield [[...titles, spec.title], spec];
  for (const child of suite.suites ?? []) yield* specs(child, [...titles, child.title]);
}

let failed = 0;
for (const suite of report.suites ?? []) {
  for (const [titles, spec] of specs(suite, [])) {
    for (const test of spec.tests) {
      for (const result of test.results) {
        if (result.status === "passed" || result.status === "skipped") continue;
        failed += 1;
        console.log(`\n✘ ${titles.filter(Boolean).join(" › ")} (${result.status}, ${result.duration} ms)`);
        for (const error of result.errors ?? []) {
          const lines = strip(error.message ?? "").split("\n");
          console.log(lines.slice(0, 40).map((line) => `    ${line}`).join("\n"));
          if (lines.length > 40) console.log(`    … ${lines.length - 40} more lines`);
        }
      }
    }
  }
}
console.log(`\n${failed} failed test result(s)`);
