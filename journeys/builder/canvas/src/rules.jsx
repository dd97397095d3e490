// The rule admin's condition builder: nested all/any groups of conditions edited as forms, written
// back into the rule's YAML editor (the one definition the server validates and saves).
import React, { useState } from "react";
import { createRoot } from "react-dom/client";
import YAML from "yaml";
import "./rules.css";

const OPERATORS = ["=", "!=", ">", ">=", "<", "<=", "in", "contains"];
const COUNT_OPERATORS = ["=", "!=", ">", ">=", "<", "<="];
const TIME_OPERATORS = [">=", ">", "<", "<="];
const TYPES = {
  count: "How many records",
  exists: "A record exists",
  value: "A record's value",
  time_since: "Time since the latest record",
  attribute: "A participant attribute",
  flag: "Another flag",
  all_of: "All of a group",
  any_of: "Any of a group",
  not: "Not",
};
const FRESH = {
  count: { type: "count", entity: "", count: ">=", count_value: 1 },
  exists: { type: "exists", entity: "" },
  value: { type: "value", entity: "", field: "", operator: "=", value: "" },
  time_since: { type: "time_since", entity: "", operator: ">=", duration: "7 days" },
  attribute: { type: "attribute", field: "", operator: "=", value: "" },
  flag: { type: "flag", flag: "", value: true },
  all_of: { type: "all_of", conditions: [] },
  any_of: { type: "any_of", conditions: [] },
  not: { type: "not", condition: { type: "exists", entity: "" } },
};

// The server reads YAML 1.1 (PyYAML): there "=" is a tag and yes/no/on/off are booleans, so such
// strings are written quoted.
function toYaml(definition) {
  const doc = new YAML.Document(definition, { version: "1.1" });
  YAML.visit(doc, {
    Scalar(_, node) {
      if (typeof node.value === "string" && /^([=!<>~].*|y|n|yes|no|on|off)$/i.test(node.value)) node.type = "QUOTE_SINGLE";
    },
  });
  return doc.toString();
}

function parseValue(text) {
  if (text === "") return "";
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  return text;
}

function Text({ label, value, onChange, placeholder, width }) {
  return (
    <label className="rb-input">
      <span>{label}</span>
      <input type="text" value={value ?? ""} placeholder={placeholder} size={width || 14} onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}

function Choice({ label, value, options, onChange }) {
  return (
    <label className="rb-input">
      <span>{label}</span>
      <select value={value ?? ""} onChange={(e) => onChange(e.target.value)}>
        {options.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
    </label>
  );
}

function Filter({ spec, set, optional }) {
  // field / operator / value: a filter on records (count, exists) or the compared value (value).
  const has = !optional || spec.field !== undefined;
  if (!has) {
    return <button type="button" className="rb-link" onClick={() => set({ field: "", operator: "=", value: "" })}>only records where…</button>;
  }
  return (
    <>
      <Text label={optional ? "where field" : "field"} value={spec.field} placeholder="avg_rating" onChange={(v) => set({ field: v })} />
      <Choice label="operator" value={spec.operator || "="} options={OPERATORS} onChange={(v) => set({ operator: v })} />
      <Text label="value" value={typeof spec.value === "string" ? spec.value : JSON.stringify(spec.value ?? "")} onChange={(v) => set({ value: parseValue(v) })} />
      {optional && <button type="button" className="rb-link" onClick={() => set({ field: undefined, operator: undefined, value: undefined })}>any record</button>}
    </>
  );
}

function Condition({ spec, onChange, onRemove, depth }) {
  const set = (change) => {
    const next = { ...spec, ...change };
    Object.keys(next).forEach((k) => next[k] === undefined && delete next[k]);
    onChange(next);
  };
  let body = null;
  if (spec.type === "count") {
    body = (
      <>
        <Text label="entity" value={spec.entity} placeholder="kintell_sessions" onChange={(v) => set({ entity: v })} />
        <Choice label="count is" value={spec.count || ">="} options={COUNT_OPERATORS} onChange={(v) => set({ count: v })} />
        <Text label="number" value={String(spec.count_value ?? "")} width={5} onChange={(v) => set({ count_value: parseValue(v) })} />
        <Filter spec={spec} set={set} optional />
      </>
    );
  } else if (spec.type === "exists") {
    body = (
      <>
        <Text label="entity" value={spec.entity} onChange={(v) => set({ entity: v })} />
        <Filter spec={spec} set={set} optional />
      </>
    );
  } else if (spec.type === "value") {
    body = (
      <>
        <Text label="entity" value={spec.entity} onChange={(v) => set({ entity: v })} />
        <Filter spec={spec} set={set} />
      </>
    );
  } else if (spec.type === "time_since") {
    body = (
      <>
        <Text label="entity" value={spec.entity} onChange={(v) => set({ entity: v })} />
        <Choice label="time since is" value={spec.operator || ">="} options={TIME_OPERATORS} onChange={(v) => set({ operator: v })} />
        <Text label="window" value={spec.duration} placeholder="7 days" width={9} onChange={(v) => set({ duration: v })} />
      </>
    );
  } else if (spec.type === "attribute") {
    body = <Filter spec={spec} set={set} />;
  } else if (spec.type === "flag") {
    body = (
      <>
        <Text label="flag" value={spec.flag} onChange={(v) => set({ flag: v })} />
        <Choice label="is" value={String(spec.value ?? true)} options={["true", "false"]} onChange={(v) => set({ value: v === "true" })} />
      </>
    );
  } else if (spec.type === "all_of" || spec.type === "any_of") {
    body = <Group conditions={spec.conditions || []} onChange={(conditions) => set({ conditions })} depth={depth + 1} />;
  } else if (spec.type === "not") {
    body = <Condition spec={spec.condition || FRESH.exists} onChange={(condition) => set({ condition })} depth={depth + 1} />;
  }
  return (
    <div className={`rb-condition rb-${spec.type}`} data-type={spec.type}>
      <div className="rb-row">
        <label className="rb-input">
          <span>condition</span>
          <select value={spec.type} onChange={(e) => onChange(FRESH[e.target.value])}>
            {Object.entries(TYPES).map(([k, label]) => <option key={k} value={k}>{label}</option>)}
          </select>
        </label>
        {spec.type !== "all_of" && spec.type !== "any_of" && spec.type !== "not" && body}
        {onRemove && <button type="button" className="rb-link rb-remove" onClick={onRemove}>Remove</button>}
      </div>
      {(spec.type === "all_of" || spec.type === "any_of" || spec.type === "not") && <div className="rb-nested">{body}</div>}
    </div>
  );
}

function Group({ conditions, onChange, depth }) {
  return (
    <div className="rb-group">
      {conditions.map((spec, i) => (
        <Condition key={i} spec={spec} depth={depth}
          onChange={(next) => onChange(conditions.map((c, j) => (j === i ? next : c)))}
          onRemove={() => onChange(conditions.filter((_, j) => j !== i))} />
      ))}
      <button type="button" className="button rb-add" onClick={() => onChange([...conditions, FRESH.count])}>Add a condition</button>
    </div>
  );
}

function Builder({ textarea }) {
  const read = () => {
    try {
      const parsed = YAML.parse(textarea.value);
      return parsed && typeof parsed === "object" ? { definition: parsed, error: "" } : { definition: {}, error: "" };
    } catch (error) {
      return { definition: null, error: error.message };
    }
  };
  const [state, setState] = useState(read);
  const conditions = Array.isArray(state.definition?.conditions) ? state.definition.conditions : [];
  const write = (next) => {
    const definition = { ...state.definition, conditions: next };
    textarea.value = toYaml(definition);
    setState({ definition, error: "" });
  };
  if (!state.definition) {
    return (
      <p className="rb-error">
        The YAML below does not parse ({state.error}); fix it there, then{" "}
        <button type="button" className="rb-link" onClick={() => setState(read())}>reload the builder</button>.
      </p>
    );
  }
  return (
    <div className="rb-builder">
      <p className="rb-help">All of these must hold. Edits are written into the definition below (saved with the rule).</p>
      <Group conditions={conditions} onChange={write} depth={0} />
      <button type="button" className="rb-link" onClick={() => setState(read())}>Reload from the YAML</button>
    </div>
  );
}

function mount() {
  const root = document.getElementById("rule-condition-builder");
  const textarea = document.getElementById("id_definition");
  if (!root || !textarea || root.dataset.mounted) return;
  root.dataset.mounted = "1";
  createRoot(root).render(<Builder textarea={textarea} />);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
