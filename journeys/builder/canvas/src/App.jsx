// The journey canvas: palette on the left, the step graph in the middle (React Flow, laid out by
// dagre), the side panel on the right. The whole draft is held here and saved in one request to
// the admin's canvas endpoint, which validates it with the journey services.
import React, { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Background, Controls, Handle, MarkerType, Position, ReactFlow, ReactFlowProvider, applyNodeChanges, useReactFlow } from "@xyflow/react";
import { connect, edgesOf, forSaving, layout, makeExplicit, moveStep, newStep, removeEdge, removeStep, withUids } from "./model.js";
import { EdgePanel, StepList, StepPanel } from "./panels.jsx";

const KIND_ICONS = { action: "⚡", wait: "◔", wait_for_event: "◎", manual: "◧", branch: "◆", split: "◈", end: "■" };

function StepNode({ data }) {
  const { step, problems, notes, stats, first } = data;
  const problemCount = Object.values(problems || {}).reduce((n, m) => n + m.length, 0);
  return (
    <div className={`jc-node jc-kind-${step.kind}${problemCount ? " jc-node-error" : ""}`} data-step={step.key}
      aria-label={`${step.name} (${step.kind}${problemCount ? `, ${problemCount} problems` : ""})`}>
      <Handle type="target" position={Position.Top} />
      <div className="jc-node-head">
        <span className="jc-node-icon" aria-hidden="true">{KIND_ICONS[step.kind] || "•"}</span>
        <span className="jc-node-name">{step.name || step.key}</span>
        {first && <span className="jc-badge jc-badge-first" title="The first step">start</span>}
      </div>
      <div className="jc-node-summary">{step.kind === "action" ? step.action_type || "choose an action" : step.kind.replace(/_/g, " ")} · <code>{step.key}</code></div>
      {problemCount > 0 && <div className="jc-node-problems" title={Object.values(problems).flat().join("\n")}>✗ {problemCount} problem{problemCount > 1 ? "s" : ""}</div>}
      {!problemCount && notes && notes.length > 0 && <div className="jc-node-note" title={notes.join("\n")}>↓ next by order</div>}
      {stats && (
        <div className="jc-node-stats" title="reached / waiting / completed / dropped">
          <span>reached {stats.reached}</span><span>waiting {stats.waiting}</span><span>done {stats.completed}</span><span>dropped {stats.dropped}</span>
        </div>
      )}
      {step.kind !== "end" && <Handle type="source" position={Position.Bottom} />}
      {step.kind === "wait_for_event" && <Handle type="source" id="timeout" position={Position.Right} title="timeout path" />}
    </div>
  );
}

const NODE_TYPES = { step: StepNode };
const NO_PROBLEMS = { steps: {}, journey: {} };
const EDGE_STYLE = {
  next: { stroke: "#546e7a" },
  variant: { stroke: "#2e7d32" },
  timeout: { stroke: "#8d6e63", strokeDasharray: "6 4" },
  jump: { stroke: "#6a1b9a", strokeDasharray: "6 4" },
  implicit: { stroke: "#ef6c00", strokeDasharray: "4 4" },
};

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const match = document.cookie.match(/csrftoken=([^;]+)/);
  return match ? match[1] : "";
}

function Canvas({ url }) {
  const [state, setState] = useState(null);
  const [steps, setSteps] = useState([]);
  const [selected, setSelected] = useState(null); // {type: "node", key} | {type: "edge", id}
  const [dirty, setDirty] = useState(false);
  const [status, setStatus] = useState(sessionStorage.getItem("jc-saved") ? "Draft saved." : "");
  const [saving, setSaving] = useState(false);
  const [flowNodes, setFlowNodes] = useState([]); // what React Flow holds (with its measurements)
  const dirtyRef = useRef(false);
  dirtyRef.current = dirty;
  const flow = useReactFlow();

  const load = useCallback(async () => {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const data = await response.json();
    setState(data);
    setSteps(withUids(data.steps));
  }, [url]);
  useEffect(() => {
    sessionStorage.removeItem("jc-saved");
    load();
  }, [load]);
  useEffect(() => {
    const warn = (event) => {
      if (dirtyRef.current) {
        event.preventDefault();
        event.returnValue = "";
      }
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, []);

  const edit = useCallback((next) => {
    setSteps(next);
    setDirty(true);
    setStatus("Unsaved changes.");
  }, []);

  const save = useCallback(async () => {
    setSaving(true);
    setStatus("Saving…");
    try {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
        body: JSON.stringify({ steps: forSaving(steps) }),
      });
      const data = await response.json().catch(() => ({}));
      if (response.ok) {
        dirtyRef.current = false;
        setDirty(false);
        sessionStorage.setItem("jc-saved", "1");
        window.location.reload(); // the page's form and banner show the saved draft
        return;
      }
      if (response.status === 400 && data.problems) {
        setState((old) => ({ ...old, problems: data.problems }));
        const count = Object.values(data.problems.steps || {}).length + Object.keys(data.problems.journey || {}).length;
        setStatus(`Not saved: ${count} step${count === 1 ? " has" : "s have"} problems (marked in red).`);
      } else {
        setStatus(`Not saved: ${data.detail || response.statusText}`);
      }
    } catch (error) {
      setStatus(`Not saved: ${error.message}`);
    } finally {
      setSaving(false);
    }
  }, [steps, url]);

  useEffect(() => {
    const onKey = (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key === "s" && dirty) {
        event.preventDefault();
        save();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [dirty, save]);

  const edges = useMemo(() => edgesOf(steps), [steps]);
  const positions = useMemo(() => layout(steps, edges), [steps, edges]);
  const keyed = useMemo(() => Object.fromEntries(steps.map((s) => [s.key, s])), [steps]);
  useEffect(() => {
    const timer = setTimeout(() => flow.fitView({ padding: 0.15, maxZoom: 1 }), 30);
    return () => clearTimeout(timer);
  }, [steps.length, flow]);

  const problems = (state && state.problems) || NO_PROBLEMS;
  const editable = state ? state.editable : false;
  const derivedNodes = useMemo(
    () =>
      steps.map((step, index) => ({
        id: step.key,
        type: "step",
        position: positions[step.key] || { x: 0, y: 0 },
        data: {
          step,
          first: index === 0,
          problems: problems.steps[step.key],
          notes: dirty || !state ? null : state.notes[step.key]?.next_steps,
          stats: state ? state.stats[step.key] : null,
        },
        ariaLabel: `Step ${step.name}`,
      })),
    [steps, positions, problems, dirty, state]
  );
  useEffect(() => {
    setFlowNodes((old) => {
      const before = Object.fromEntries(old.map((n) => [n.id, n]));
      return derivedNodes.map((n) => (before[n.id] ? { ...before[n.id], ...n } : n));
    });
  }, [derivedNodes]);
  const selectedKey = selected?.type === "node" ? selected.key : null;
  const nodes = useMemo(() => flowNodes.map((n) => (n.selected === (n.id === selectedKey) ? n : { ...n, selected: n.id === selectedKey })), [flowNodes, selectedKey]);

  if (!state) return <p className="jc-loading">Loading the canvas…</p>;

  const flowEdges = edges
    .filter((e) => keyed[e.target])
    .map((e) => ({
      id: e.id,
      source: e.source,
      target: e.target,
      sourceHandle: e.sourceHandle,
      label: e.label,
      selected: selected?.type === "edge" && selected.id === e.id,
      style: EDGE_STYLE[e.kind],
      markerEnd: { type: MarkerType.ArrowClosed },
      className: `jc-edge jc-edge-${e.kind}`,
      labelBgPadding: [4, 2],
      data: e,
      ariaLabel: `Path from ${e.source} to ${e.target}: ${e.label}`,
    }));

  const selectedStep = selected?.type === "node" ? keyed[selected.key] : null;
  const selectedEdge = selected?.type === "edge" ? edges.find((e) => e.id === selected.id) : null;

  const add = (kind, actionType) => {
    const step = newStep(steps, kind, actionType);
    let next = [...steps, step];
    if (selectedStep && selectedStep.kind !== "end") next = connect(next, selectedStep.key, step.key);
    edit(next);
    setSelected({ type: "node", key: step.key });
  };

  return (
    <div className="jc-shell">
      <div className="jc-toolbar" role="toolbar" aria-label="Canvas">
        <button type="button" className="button jc-save" onClick={save} disabled={!editable || saving || !dirty}>Save draft</button>
        <button type="button" className="button" onClick={() => { load(); setDirty(false); setStatus("Changes discarded."); }} disabled={!dirty}>Discard changes</button>
        <button type="button" className="button" onClick={() => flow.fitView({ padding: 0.15, maxZoom: 1 })}>Fit to view</button>
        <span className="jc-status" role="status" aria-live="polite">{status}</span>
      </div>
      <Problems journey={problems.journey} />
      <div className="jc-body">
        <nav className="jc-palette" aria-label="Add a step">
          <h3>Add a step</h3>
          <p className="jc-hint">{selectedStep ? `Added after “${selectedStep.name}”.` : "Select a step to add after it."}</p>
          <h4>Actions</h4>
          {state.action_types.map((action) => (
            <button type="button" key={action.name} className="jc-palette-item" data-action={action.name} title={action.description}
              disabled={!editable} onClick={() => add("action", action.name)}>
              ⚡ {action.name.replace(/_/g, " ")}
            </button>
          ))}
          <h4>Flow</h4>
          {state.kinds.filter((k) => k.kind !== "action").map((kind) => (
            <button type="button" key={kind.kind} className="jc-palette-item" data-kind={kind.kind} title={kind.help}
              disabled={!editable} onClick={() => add(kind.kind)}>
              {KIND_ICONS[kind.kind]} {kind.label}
            </button>
          ))}
        </nav>
        <div className="jc-flow" aria-label="Step graph: Tab to a step, Enter to select it, Delete to remove it">
          <ReactFlow
            nodes={nodes}
            edges={flowEdges}
            nodeTypes={NODE_TYPES}
            nodesDraggable={false}
            nodesConnectable={editable}
            elementsSelectable
            deleteKeyCode={editable ? ["Delete", "Backspace"] : null}
            onNodesChange={(changes) => {
              setFlowNodes((old) => applyNodeChanges(changes.filter((c) => c.type === "dimensions"), old));
              // A node chosen by the user (click, or Enter on a focused node) opens in the panel.
              const chosen = changes.find((c) => c.type === "select" && c.selected && keyed[c.id]);
              if (chosen) setSelected({ type: "node", key: chosen.id });
            }}
            onEdgesChange={(changes) => {
              const chosen = changes.find((c) => c.type === "select" && c.selected);
              if (chosen && edges.some((x) => x.id === chosen.id)) setSelected({ type: "edge", id: chosen.id });
            }}
            onConnect={(c) => c.source !== c.target && edit(connect(steps, c.source, c.target, c.sourceHandle))}
            onNodeClick={(_, node) => setSelected({ type: "node", key: node.id })}
            onEdgeClick={(_, edge) => setSelected({ type: "edge", id: edge.id })}
            onPaneClick={() => setSelected(null)}
            onNodesDelete={(deleted) => { edit(deleted.reduce((acc, n) => removeStep(acc, n.id), steps)); setSelected(null); }}
            onEdgesDelete={(deleted) => {
              const removable = deleted.filter((e) => e.data.kind !== "implicit").sort((a, b) => (b.data.index ?? 0) - (a.data.index ?? 0));
              if (removable.length) edit(removable.reduce((acc, e) => removeEdge(acc, e.data), steps));
              setSelected(null);
            }}
            fitView
            minZoom={0.3}
            maxZoom={1.5}
            proOptions={{ hideAttribution: false }}
          >
            <Background gap={20} />
            <Controls showInteractive={false} />
          </ReactFlow>
        </div>
        <aside className="jc-panel" aria-label="Selected step">
          {selectedStep ? (
            <StepPanel
              key={selectedStep._uid}
              step={selectedStep}
              steps={steps}
              state={state}
              problems={problems.steps[selectedStep.key] || {}}
              notes={dirty ? [] : state.notes[selectedStep.key]?.next_steps || []}
              stats={state.stats[selectedStep.key]}
              editable={editable}
              onChange={(next, newKey) => { edit(next); if (newKey) setSelected({ type: "node", key: newKey }); }}
              onMove={(delta) => edit(moveStep(steps, selectedStep.key, delta))}
              onDelete={() => { edit(removeStep(steps, selectedStep.key)); setSelected(null); }}
              onClose={() => setSelected(null)}
            />
          ) : selectedEdge ? (
            <EdgePanel
              edge={selectedEdge}
              steps={steps}
              state={state}
              editable={editable}
              onChange={edit}
              onExplicit={() => edit(makeExplicit(steps, selectedEdge))}
              onDelete={() => { edit(removeEdge(steps, selectedEdge)); setSelected(null); }}
              onClose={() => setSelected(null)}
            />
          ) : (
            <StepList steps={steps} problems={problems.steps} onSelect={(key) => setSelected({ type: "node", key })} />
          )}
        </aside>
      </div>
    </div>
  );
}

function Problems({ journey }) {
  const lines = Object.entries(journey || {}).flatMap(([path, messages]) => messages.map((m) => `${path}: ${m}`));
  if (!lines.length) return null;
  return <ul className="jc-problems" role="alert">{lines.map((l) => <li key={l}>{l}</li>)}</ul>;
}

export default function App({ url }) {
  return (
    <ReactFlowProvider>
      <Canvas url={url} />
    </ReactFlowProvider>
  );
}
