// The draft as the canvas holds it: an ordered list of steps (the server's Step fields), and the
// edges read from them the way the engine reads them (journeys/engine/definition.py):
// next_steps entries, split variants, a wait's timeout step, a schedule_next jump, and — when a
// step says nothing — the next step by order, drawn as an "implicit" edge so it is never missed.
import dagre from "@dagrejs/dagre";

export const NODE_W = 230;
export const NODE_H = 84;

let counter = 0;
export function uid() {
  counter += 1;
  return `s${Date.now().toString(36)}${counter}`;
}

export function withUids(steps) {
  return steps.map((step) => ({ ...step, _uid: uid() }));
}

export function describeCondition(spec) {
  if (!spec || typeof spec !== "object") return "";
  if (Array.isArray(spec.all) || Array.isArray(spec.any)) {
    const kind = spec.all ? "all" : "any";
    return spec[kind].map(describeCondition).join(kind === "all" ? " and " : " or ");
  }
  if (spec.not) return `not ${describeCondition(spec.not)}`;
  if (spec.type) return `${spec.type}(…)`;
  if ("field" in spec) {
    const symbols = { eq: "=", ne: "≠", gt: ">", gte: "≥", lt: "<", lte: "≤" };
    const op = spec.op || spec.operator || "eq";
    if (op === "exists") return `${spec.field || "?"} exists`;
    return `${spec.field || "?"} ${symbols[op] || op} ${JSON.stringify(spec.value ?? "")}`;
  }
  return JSON.stringify(spec);
}

function entriesOf(step) {
  return (Array.isArray(step.next_steps) ? step.next_steps : []).map((entry) =>
    typeof entry === "string" ? { step: entry, condition: null } : entry
  );
}

export function edgesOf(steps) {
  const edges = [];
  steps.forEach((step, index) => {
    const config = step.config || {};
    if (step.kind === "end") return;
    if (step.kind === "split") {
      (config.variants || []).forEach((variant, j) => {
        edges.push({
          id: `${step._uid}:variant:${j}`, source: step.key, target: variant.step, kind: "variant", index: j,
          label: `${variant.name || "?"} · weight ${variant.weight ?? 1}`,
        });
      });
    }
    const entries = entriesOf(step);
    entries.forEach((entry, j) => {
      const condition = describeCondition(entry.condition);
      let label = condition ? `if ${condition}` : entries.length > 1 || step.kind === "branch" ? "otherwise" : "then";
      if (step.kind === "wait_for_event" && !condition) label = `on ${config.event || "event"}`;
      edges.push({ id: `${step._uid}:next:${j}`, source: step.key, target: entry.step, kind: "next", index: j, label });
    });
    if (step.kind === "wait_for_event" && config.timeout_step) {
      edges.push({
        id: `${step._uid}:timeout`, source: step.key, target: config.timeout_step, kind: "timeout",
        label: `timeout ${config.timeout || ""}`.trim(), sourceHandle: "timeout",
      });
    }
    if (step.kind === "action" && step.action_type === "schedule_next" && config.step) {
      edges.push({ id: `${step._uid}:jump`, source: step.key, target: config.step, kind: "jump", label: `jump ${config.delay || ""}`.trim() });
    }
    const following = steps[index + 1];
    if (!entries.length && step.kind !== "split" && !step.completion && following) {
      const label = step.kind === "wait_for_event" ? `on ${config.event || "event"} (next by order)` : "next by order";
      edges.push({ id: `${step._uid}:implicit`, source: step.key, target: following.key, kind: "implicit", label });
    }
  });
  return edges;
}

export function layout(steps, edges) {
  const graph = new dagre.graphlib.Graph({ multigraph: true });
  graph.setGraph({ rankdir: "TB", nodesep: 50, ranksep: 70, marginx: 20, marginy: 20 });
  graph.setDefaultEdgeLabel(() => ({}));
  steps.forEach((step) => graph.setNode(step.key, { width: NODE_W, height: NODE_H }));
  const keys = new Set(steps.map((s) => s.key));
  edges.forEach((edge) => {
    if (keys.has(edge.source) && keys.has(edge.target) && edge.source !== edge.target) {
      graph.setEdge(edge.source, edge.target, { minlen: 1, labelpos: "c", width: 120, height: 20 }, edge.id);
    }
  });
  dagre.layout(graph);
  const positions = {};
  steps.forEach((step) => {
    const node = graph.node(step.key);
    positions[step.key] = node ? { x: node.x - NODE_W / 2, y: node.y - NODE_H / 2 } : { x: 0, y: 0 };
  });
  return positions;
}

// ---- edits: each returns a new list of steps ------------------------------------------------

function replaceStep(steps, key, change) {
  return steps.map((step) => (step.key === key ? { ...step, ...change(step) } : step));
}

export function connect(steps, source, target, handle) {
  return replaceStep(steps, source, (step) => {
    const config = { ...(step.config || {}) };
    if (step.kind === "split") {
      const variants = [...(config.variants || [])];
      variants.push({ name: String.fromCharCode(65 + variants.length), weight: 1, step: target });
      return { config: { ...config, variants } };
    }
    if (step.kind === "wait_for_event" && handle === "timeout") {
      return { config: { ...config, timeout_step: target } };
    }
    const entries = entriesOf(step);
    if (!entries.length) return { next_steps: [{ step: target, condition: null }] };
    // A further path is a condition to fill in, placed before the default (the last, unconditional one).
    const fresh = { step: target, condition: { field: "payload.", op: "eq", value: "" } };
    const last = entries[entries.length - 1];
    if (!last.condition) return { next_steps: [...entries.slice(0, -1), fresh, last] };
    return { next_steps: [...entries, fresh] };
  });
}

export function removeEdge(steps, edge) {
  const source = steps.find((s) => s._uid === edge.id.split(":")[0]);
  if (!source) return steps;
  return replaceStep(steps, source.key, (step) => {
    const config = { ...(step.config || {}) };
    if (edge.kind === "variant") {
      return { config: { ...config, variants: (config.variants || []).filter((_, j) => j !== edge.index) } };
    }
    if (edge.kind === "timeout") {
      delete config.timeout_step;
      return { config };
    }
    if (edge.kind === "jump") {
      delete config.step;
      return { config };
    }
    if (edge.kind === "next") return { next_steps: entriesOf(step).filter((_, j) => j !== edge.index) };
    return {};
  });
}

export function makeExplicit(steps, edge) {
  return replaceStep(steps, edge.source, () => ({ next_steps: [{ step: edge.target, condition: null }] }));
}

export function removeStep(steps, key) {
  return steps
    .filter((step) => step.key !== key)
    .map((step) => {
      const config = { ...(step.config || {}) };
      if (config.timeout_step === key) delete config.timeout_step;
      if (step.action_type === "schedule_next" && config.step === key) delete config.step;
      if (Array.isArray(config.variants)) config.variants = config.variants.filter((v) => v.step !== key);
      return { ...step, config, next_steps: entriesOf(step).filter((entry) => entry.step !== key) };
    });
}

export function renameStep(steps, oldKey, newKey) {
  const rename = (value) => (value === oldKey ? newKey : value);
  return steps.map((step) => {
    const config = { ...(step.config || {}) };
    if (config.timeout_step) config.timeout_step = rename(config.timeout_step);
    if (step.action_type === "schedule_next" && config.step) config.step = rename(config.step);
    if (Array.isArray(config.variants)) config.variants = config.variants.map((v) => ({ ...v, step: rename(v.step) }));
    return {
      ...step,
      key: step.key === oldKey ? newKey : step.key,
      config,
      next_steps: entriesOf(step).map((entry) => ({ ...entry, step: rename(entry.step) })),
    };
  });
}

export function moveStep(steps, key, delta) {
  const index = steps.findIndex((s) => s.key === key);
  const target = index + delta;
  if (index < 0 || target < 0 || target >= steps.length) return steps;
  const copy = [...steps];
  const [step] = copy.splice(index, 1);
  copy.splice(target, 0, step);
  return copy;
}

export function freshKey(steps, base) {
  const taken = new Set(steps.map((s) => s.key));
  const stem = base.replace(/[^a-z0-9_]+/gi, "_").toLowerCase() || "step";
  for (let n = 1; ; n += 1) {
    const key = `${stem}_${n}`;
    if (!taken.has(key)) return key;
  }
}

export function newStep(steps, kind, actionType) {
  const label = actionType || kind;
  const key = freshKey(steps, label);
  const config = {};
  if (kind === "wait") config.duration = "1 day";
  if (kind === "wait_for_event") Object.assign(config, { event: "", timeout: "3 days" });
  return {
    _uid: uid(),
    key,
    name: key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()),
    kind,
    action_type: actionType || "",
    config,
    condition: null,
    next_steps: [],
    delay_minutes: 0,
    is_milestone: false,
    completion: false,
    max_attempts: 3,
    on_failure: "fail",
  };
}

export function forSaving(steps) {
  return steps.map(({ _uid, summary, secret_kept, ...step }) => ({
    ...step,
    next_steps: entriesOf(step).map((entry) => (entry.condition ? entry : { step: entry.step, condition: null })),
  }));
}
