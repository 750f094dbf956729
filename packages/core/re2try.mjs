import { RE2JS } from "re2js";
for (const p of ["\\x{2028}", "[^\\x00-\\x{10FFFF}]", "[\\x00-\\x{10FFFF}]", "[\\b]", "\\Q"]) {
  try { const t = RE2JS.translateRegExp(p); const r = RE2JS.compile(t); console.log(JSON.stringify(p), "->", JSON.stringify(t), r.test("a"), r.test("\u2028")); } catch (e) { console.log(p, "ERR", e.message); }
}
function time(label, p, input) {
  let t = performance.now(); let r;
  try { r = RE2JS.compile(p); } catch (e) { console.log(label, "compile ERR", e.message, performance.now()-t); return; }
  const c = performance.now()-t; t = performance.now();
  const res = r.test(input);
  console.log(label, "prog", r.programSize(), "compile", c.toFixed(1), "test", (performance.now()-t).toFixed(1), res);
}
const big = "ab".repeat(500000);
time("counted", "[ab]{1000}c", big);
time("counted2", "(?:[ab]{100}){10}c", big);
time("alt", "(a|b|ab|ba)*c", big);
time("unicode", "\\pL{1000}c", big);
time("manyalts", Array.from({length: 400}, (_, i) => "a" + i).join("|") + "x", big);
time("long", "(?:a?){500}a{500}", "a".repeat(100000));
time("long2", "(?:(?:a?){100}){10}", "a".repeat(1000000)+"b");
time("dotstar", "^(.*a){20}$", "a".repeat(100000)+"b");
time("dotstar2", "(.*a){100}x", "a".repeat(100000));
let rnd = ""; let s = 1; for (let i = 0; i < 1000000; i++) { s = (s * 1103515245 + 12345) & 0x7fffffff; rnd += (s >> 16) & 1 ? "a" : "b"; }
time("dfablow20", "(?:a|b)*a(?:a|b){20}c", rnd + "c");
time("dfablow20b", "a[ab]{20}c", rnd + "c");
time("dfablow200", "a[ab]{200}c", rnd + "c");
time("dfablow200nc", "a[ab]{200}$", rnd);
time("nfa-cap", "(a)[ab]{200}c", rnd + "c");
time("counted-c", "[ab]{1000}c", big + "c");
