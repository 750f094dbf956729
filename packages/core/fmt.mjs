import Ajv from "ajv"; import addFormats from "ajv-formats";
const ajv = new Ajv({allErrors:true, strict:false}); addFormats(ajv);
const fmts = Object.keys(ajv.formats);
const chars = ["a","0","-",".","@","/",":","%","1:","a.","a-","0.","::","[",":a", "aa@", "+", "T", "Z"," ", "\\", "!"];
for (const f of fmts) {
  const v = ajv.compile({type:"string", format: f});
  let worst = 0, wc="";
  for (const c of chars) for (const suffix of ["!", "\u0000", "@@", ""]) {
    const s = c.repeat(Math.ceil(20000/c.length)) + suffix;
    const t = performance.now(); v(s); const d = performance.now()-t;
    if (d > worst) { worst = d; wc = c + "|" + JSON.stringify(suffix); }
    const s2 = "a@" + c.repeat(10000) + suffix; const t2 = performance.now(); v(s2); const d2 = performance.now()-t2; if (d2>worst) {worst=d2; wc="a@"+c;}
    const s3 = "http://" + c.repeat(10000) + suffix; const t3 = performance.now(); v(s3); const d3 = performance.now()-t3; if (d3>worst) {worst=d3; wc="http://"+c;}
  }
  console.log(f, worst.toFixed(1), wc);
}
