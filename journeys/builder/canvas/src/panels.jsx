// The side panel: the selected step (settings, config form, paths, order), the selected path, or
// the list of steps in order (the keyboard's way into the graph).
import React, { useEffect, useState } from "react";
import { ConditionEditor, JsonBox, Problems, SchemaForm } from "./forms.jsx";
import { describeCondition, renameStep } from "./model.js";

const WAITING = new Set(["wait", "wait_for_event", "manual"]);

function entriesOf(step) {
  return (Array.isArray(step.next_steps) ? step.next_steps : []).map((e) => (typeof e === "string" ? { step: e, condition: null } : e));
}

function messagesFor(problems, prefix) {
  return Object.entries(problems).filter(([k]) => k === prefix || k.startsWith(`${prefix}.`)).flatMap(([, m]) => m);
}

function TargetSelect({ value, steps, self, onChange, label }) {
  return (
    <select aria-label={label} value={value || ""} onChange={(e) => onChange(e.target.value)}>
      <option value="">— choose a step —</option>
      {steps.filter((s) => s.key !== self).map((s) => <option key={s._uid} value={s.key}>{s.name} ({s.key})</option>)}
    </select>
  );
}

function Paths({ step, steps, state, problems, update, editable }) {
  const entries = entriesOf(step);
  const config = step.config || {};
  const setEntries = (next) => update({ next_steps: next });
  if (step.kind === "end") return <p className="jc-hint">An end step has no way out: the journey ends here.</p>;
  if (step.kind === "split") {
    const variants = config.variants || [];
    const setVariants = (next) => update({ config: { ...config, variants: next } });
    return (
      <fieldset className="jc-paths">
        <legend>Variants (participants are split at random by weight)</legend>
        {variants.map((variant, j) => (
          <div className="jc-path" key={j}>
            <input aria-label="Variant name" value={variant.name || ""} onChange={(e) => setVariants(variants.map((v, i) => (i === j ? { ...v, name: e.target.value } : v)))} />
            <input aria-label="Weight" type="number" min="0" step="any" value={variant.weight ?? 1} onChange={(e) => setVariants(variants.map((v, i) => (i === j ? { ...v, weight: Number(e.target.value) } : v)))} />
            <TargetSelect label="Goes to" value={variant.step} steps={steps} self={step.key} onChange={(v) => setVariants(variants.map((x, i) => (i === j ? { ...x, step: v } : x)))} />
            <button type="button" className="jc-link" disabled={!editable} onClick={() => setVariants(variants.filter((_, i) => i !== j))}>Remove</button>
            <Problems messages={messagesFor(problems, `config.variants.${j}`)} />
          </div>
        ))}
        <Problems messages={problems["config.variants"]} />
        <button type="button" className="button jc-add-path" disabled={!editable} onClick={() => setVariants([...variants, { name: String.fromCharCode(65 + variants.length), weight: 1, step: "" }])}>Add a variant</button>
      </fieldset>
    );
  }
  const move = (j, delta) => {
    const next = [...entries];
    const [entry] = next.splice(j, 1);
    next.splice(j + delta, 0, entry);
    setEntries(next);
  };
  return (
    <fieldset className="jc-paths">
      <legend>{step.kind === "branch" ? "Paths (the first whose condition holds; the last is the default)" : step.kind === "wait_for_event" ? `When ${config.event || "the event"} arrives, go to` : "Then go to"}</legend>
      {entries.map((entry, j) => (
        <div className="jc-path" key={j} data-path={j}>
          <TargetSelect label={`Path ${j + 1} goes to`} value={entry.step} steps={steps} self={step.key} onChange={(v) => setEntries(entries.map((e, i) => (i === j ? { ...e, step: v } : e)))} />
          {entry.condition ? (
            <ConditionEditor label={`Path ${j + 1}: only if`} value={entry.condition} operators={state.operators} roots={state.roots}
              errors={messagesFor(problems, `next_steps.${j}.condition`)}
              onChange={(c) => setEntries(entries.map((e, i) => (i === j ? { ...e, condition: c } : e)))} />
          ) : (
            <span className="jc-hint">{j === entries.length - 1 && entries.length > 1 ? "otherwise (the default)" : "always"}</span>
          )}
          <div className="jc-path-tools">
            <button type="button" className="jc-link" onClick={() => setEntries(entries.map((e, i) => (i === j ? { ...e, condition: e.condition ? null : { field: "payload.", op: "eq", value: "" } } : e)))}>
              {entry.condition ? "Remove the condition" : "Add a condition"}
            </button>
            {j > 0 && <button type="button" className="jc-link" onClick={() => move(j, -1)} aria-label={`Move path ${j + 1} up`}>↑</button>}
            {j < entries.length - 1 && <button type="button" className="jc-link" onClick={() => move(j, 1)} aria-label={`Move path ${j + 1} down`}>↓</button>}
            <button type="button" className="jc-link" disabled={!editable} onClick={() => setEntries(entries.filter((_, i) => i !== j))}>Remove</button>
          </div>
          <Problems messages={messagesFor(problems, `next_steps.${j}.step`)} />
        </div>
      ))}
      <Problems messages={problems.next_steps} />
      <button type="button" className="button jc-add-path" disabled={!editable} onClick={() => setEntries([...entries, { step: "", condition: entries.length ? { field: "payload.", op: "eq", value: "" } : null }])}>Add a path</button>
      {step.kind === "wait_for_event" && (
        <div className="jc-field">
          <label>If it does not come in time, go to</label>
          <TargetSelect label="Timeout path goes to" value={config.timeout_step} steps={steps} self={step.key} onChange={(v) => update({ config: { ...config, timeout_step: v } })} />
          <Problems messages={problems["config.timeout_step"]} />
        </div>
      )}
    </fieldset>
  );
}

export function StepPanel({ step, steps, state, problems, notes, stats, editable, onChange, onMove, onDelete, onClose }) {
  const [key, setKey] = useState(step.key);
  useEffect(() => setKey(step.key), [step.key]);
  const update = (change) => onChange(steps.map((s) => (s.key === step.key ? { ...s, ...change } : s)));
  const action = state.action_types.find((a) => a.name === step.action_type);
  const schema = step.kind === "action" ? action?.schema : state.kind_schemas[step.kind];
  const index = steps.findIndex((s) => s.key === step.key);
  const kindLabel = (state.kinds.find((k) => k.kind === step.kind) || {}).label || step.kind;
  const shown = new Set(["key", "name", "action_type", "delay_minutes", "max_attempts", "on_failure"]);
  const other = Object.entries(problems)
    .filter(([field]) => !shown.has(field) && !field.startsWith("config") && !field.startsWith("next_steps") && !field.startsWith("condition"))
    .flatMap(([field, messages]) => messages.map((m) => `${field}: ${m}`));
  const configOther = step.kind !== "action" || !schema ? messagesFor(problems, "config") : problems.config || [];
  return (
    <div className="jc-step-panel" data-step={step.key}>
      <div className="jc-panel-head">
        <h3>{kindLabel}: {step.name}</h3>
        <button type="button" className="jc-link" onClick={onClose} aria-label="Close the panel">✕</button>
      </div>
      <p className="jc-hint">{(state.kinds.find((k) => k.kind === step.kind) || {}).help}</p>
      {stats && <p className="jc-stats">Reached {stats.reached} · waiting {stats.waiting} · completed {stats.completed} · dropped {stats.dropped}</p>}
      <Problems messages={other} />
      <fieldset disabled={!editable} className="jc-plain">
        <div className="jc-field">
          <label htmlFor="jc-step-name">Name</label>
          <input id="jc-step-name" value={step.name || ""} onChange={(e) => update({ name: e.target.value })} />
          <Problems messages={problems.name} />
        </div>
        <div className="jc-field">
          <label htmlFor="jc-step-key">Key</label>
          <input id="jc-step-key" value={key} onChange={(e) => setKey(e.target.value)}
            onBlur={() => key && key !== step.key && !steps.some((s) => s.key === key) ? onChange(renameStep(steps, step.key, key), key) : setKey(step.key)} />
          <span className="jc-hint">Letters, digits and _; paths and results refer to it.</span>
          <Problems messages={problems.key} />
        </div>
        {step.kind === "action" && (
          <div className="jc-field">
            <label htmlFor="jc-step-action">Action</label>
            <select id="jc-step-action" value={step.action_type || ""} onChange={(e) => update({ action_type: e.target.value, config: {} })}>
              <option value="">— choose —</option>
              {state.action_types.map((a) => <option key={a.name} value={a.name}>{a.name} — {a.description}</option>)}
            </select>
            <Problems messages={problems.action_type} />
          </div>
        )}
        {schema ? (
          <SchemaForm schema={schema} value={step.config} prefix="config." errors={problems} secretKept={step.secret_kept}
            stepKeys={steps.map((s) => s.key).filter((k) => k !== step.key)} onChange={(config) => update({ config })} />
        ) : step.kind === "action" && step.action_type ? (
          <div className="jc-field">
            <label>Settings (JSON)</label>
            <JsonBox value={step.config} onChange={(config) => update({ config: config || {} })} />
          </div>
        ) : null}
        <Problems messages={configOther} />
      </fieldset>
      <Paths step={step} steps={steps} state={state} problems={problems} update={update} editable={editable} />
      {notes.length > 0 && <ul className="jc-notes">{notes.map((n) => <li key={n}>{n}</li>)}</ul>}
      <details className="jc-more">
        <summary>Condition, timing and failures</summary>
        <fieldset disabled={!editable} className="jc-plain">
          {step.condition ? (
            <>
              <ConditionEditor label="Run this step only if (skipped otherwise)" value={step.condition} operators={state.operators} roots={state.roots}
                errors={messagesFor(problems, "condition")} onChange={(c) => update({ condition: c })} />
              <button type="button" className="jc-link" onClick={() => update({ condition: null })}>Always run this step</button>
            </>
          ) : (
            step.kind !== "end" && <button type="button" className="jc-link" onClick={() => update({ condition: { field: "attributes.", op: "eq", value: "" } })}>Run this step only if…</button>
          )}
          {!WAITING.has(step.kind) && step.kind !== "end" && (
            <div className="jc-field">
              <label htmlFor="jc-step-delay">Delay before it runs (minutes)</label>
              <input id="jc-step-delay" type="number" min="0" value={step.delay_minutes || 0} onChange={(e) => update({ delay_minutes: Math.max(0, parseInt(e.target.value || "0", 10)) })} />
              <Problems messages={problems.delay_minutes} />
            </div>
          )}
          {step.kind === "action" && (
            <>
              <div className="jc-field">
                <label htmlFor="jc-step-attempts">Attempts</label>
                <input id="jc-step-attempts" type="number" min="1" max="20" value={step.max_attempts || 3} onChange={(e) => update({ max_attempts: parseInt(e.target.value || "3", 10) })} />
                <Problems messages={problems.max_attempts} />
              </div>
              <div className="jc-field">
                <label htmlFor="jc-step-failure">When every attempt fails</label>
                <select id="jc-step-failure" value={step.on_failure || "fail"} onChange={(e) => update({ on_failure: e.target.value })}>
                  <option value="fail">fail the run</option>
                  <option value="continue">continue with the next step</option>
                </select>
              </div>
            </>
          )}
          <label className="jc-check"><input type="checkbox" checked={!!step.is_milestone} onChange={(e) => update({ is_milestone: e.target.checked })} /> Counts as a milestone (progress)</label>
          {step.kind !== "end" && (
            <label className="jc-check"><input type="checkbox" checked={!!step.completion} onChange={(e) => update({ completion: e.target.checked })} /> Completes the journey when reached</label>
          )}
        </fieldset>
      </details>
      <div className="jc-order">
        <span>Step {index + 1} of {steps.length}{index === 0 ? " — participants start here" : ""}</span>
        <button type="button" className="button" disabled={!editable || index === 0} onClick={() => onMove(-1)}>Move up</button>
        <button type="button" className="button" disabled={!editable || index === steps.length - 1} onClick={() => onMove(1)}>Move down</button>
        <button type="button" className="button jc-delete" disabled={!editable} onClick={onDelete}>Delete step</button>
      </div>
    </div>
  );
}

export function EdgePanel({ edge, steps, state, editable, onChange, onExplicit, onDelete, onClose }) {
  const source = steps.find((s) => s.key === edge.source);
  const target = steps.find((s) => s.key === edge.target);
  const words = {
    next: "A path chosen by the step's paths, in order.",
    variant: "A variant of the A/B split.",
    timeout: "Taken when the awaited event does not come in time.",
    jump: "The step's schedule_next action jumps here.",
    implicit: "Nothing says where to go after this step, so it continues with the next step by order. Make it explicit, or connect the step to where it should go.",
  };
  const entries = source ? entriesOf(source) : [];
  const entry = edge.kind === "next" ? entries[edge.index] : null;
  return (
    <div className="jc-edge-panel">
      <div className="jc-panel-head">
        <h3>Path: {source?.name || edge.source} → {target?.name || edge.target}</h3>
        <button type="button" className="jc-link" onClick={onClose} aria-label="Close the panel">✕</button>
      </div>
      <p className="jc-hint">{words[edge.kind]}</p>
      {entry && entry.condition && (
        <ConditionEditor label="Only if" value={entry.condition} operators={state.operators} roots={state.roots} errors={[]}
          onChange={(c) => onChange(steps.map((s) => (s.key === source.key ? { ...s, next_steps: entries.map((e, i) => (i === edge.index ? { ...e, condition: c } : e)) } : s)))} />
      )}
      {entry && !entry.condition && <p>{describeCondition(entry.condition) || (entries.length > 1 ? "Otherwise (the default path)." : "Always.")}</p>}
      <div className="jc-order">
        {edge.kind === "implicit" && <button type="button" className="button" disabled={!editable} onClick={onExplicit}>Make this path explicit</button>}
        {edge.kind !== "implicit" && <button type="button" className="button jc-delete" disabled={!editable} onClick={onDelete}>Remove this path</button>}
      </div>
    </div>
  );
}

export function StepList({ steps, problems, onSelect }) {
  return (
    <div className="jc-step-list">
      <h3>Steps in order</h3>
      <p className="jc-hint">Select a step to edit it. Drag from a step's lower dot to another step to connect them; add steps from the palette.</p>
      <ol>
        {steps.map((step) => (
          <li key={step._uid}>
            <button type="button" className="jc-link" onClick={() => onSelect(step.key)}>
              {step.name} <code>{step.key}</code>
            </button>
            {problems[step.key] && <span className="jc-bad"> ✗</span>}
          </li>
        ))}
      </ol>
      {!steps.length && <p>No steps yet: add the first from the palette.</p>}
    </div>
  );
}
