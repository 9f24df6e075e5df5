#!/usr/bin/env node
// tests/lint/cycles.mjs - fails on any cycle between Axon's modules, read
// from the objects' real symbols: module A depends on module B when A's
// object has an undefined symbol that B's object defines (nm). A header that
// includes another makes no edge; only a call or a data reference does.
//
//   node tests/lint/cycles.mjs [objdir]     (default build; main.o is left
//                                            out: it is the program, not a module)
//
// Exit 0 and one summary line when the graph is acyclic. Otherwise exit 1,
// and for each strongly connected component of more than one module, every
// edge inside it with the symbols that make it, so the back-call is plain.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";

const dir = process.argv[2] ?? "build";
const objs = readdirSync(dir)
    .filter((f) => f.endsWith(".o") && f !== "main.o")
    .sort();
if (objs.length === 0) {
    console.error(`cycles: no objects in ${dir}/ (run make all first)`);
    process.exit(1);
}

const defs = new Map(); // symbol -> module
const undef = new Map(); // module -> Set of symbols
for (const o of objs) {
    const mod = basename(o, ".o");
    const out = execFileSync("nm", ["--defined-only", "-g", join(dir, o)], { encoding: "utf8" });
    for (const line of out.split("\n")) {
        const p = line.trim().split(/\s+/);
        if (p.length === 3) defs.set(p[2], mod);
    }
    const u = execFileSync("nm", ["--undefined-only", join(dir, o)], { encoding: "utf8" });
    undef.set(mod, new Set(u.split("\n").map((l) => l.trim().split(/\s+/).pop()).filter(Boolean)));
}

// edges: module -> Map(module -> [symbols])
const edges = new Map();
for (const [mod, syms] of undef) {
    const to = new Map();
    for (const s of syms) {
        const d = defs.get(s);
        if (d === undefined || d === mod) continue;
        if (!to.has(d)) to.set(d, []);
        to.get(d).push(s);
    }
    edges.set(mod, to);
}

// Tarjan's strongly connected components.
let index = 0;
const idx = new Map(), low = new Map(), stack = [], on = new Set(), sccs = [];
function visit(v) {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v).keys()) {
        if (!idx.has(w)) {
            visit(w);
            low.set(v, Math.min(low.get(v), low.get(w)));
        } else if (on.has(w)) {
            low.set(v, Math.min(low.get(v), idx.get(w)));
        }
    }
    if (low.get(v) === idx.get(v)) {
        const c = [];
        let w;
        do {
            w = stack.pop();
            on.delete(w);
            c.push(w);
        } while (w !== v);
        sccs.push(c.sort());
    }
}
for (const v of edges.keys()) if (!idx.has(v)) visit(v);

const cycles = sccs.filter((c) => c.length > 1);
if (cycles.length === 0) {
    console.log(`cycles: none between the ${edges.size} modules of ${dir}/`);
    process.exit(0);
}
console.log(`cycles: ${cycles.length} cycle(s) between modules (each edge: the symbols that make it):`);
for (const c of cycles) {
    console.log(`  {${c.join(", ")}}`);
    const inside = new Set(c);
    for (const a of c)
        for (const [b, syms] of edges.get(a))
            if (inside.has(b)) console.log(`    ${a} -> ${b}: ${syms.sort().join(" ")}`);
}
process.exit(1);
