import Ajv from "ajv"; import addFormats from "ajv-formats";
const ajv = new Ajv({allErrors:true, strict:false}); addFormats(ajv);
const cases = [["url","http://", "::"],["date-time","a@","a."],["regex","http://","a."],["relative-json-pointer","a@","%"],["byte","a@",":"],["hostname","","-"],["date","","-"]];
for (const [f, pre, c] of cases) {
  const v = ajv.compile({type:"string", format: f});
  const out = [];
  for (const n of [5000, 10000, 20000, 40000]) { const s = pre + c.repeat(n) + "!"; const t = performance.now(); v(s); out.push((performance.now()-t).toFixed(1)); }
  console.log(f, out.join(" "));
}
