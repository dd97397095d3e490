// Forms of the side panel: one generated from an action type's JSON Schema (the schema the server
// validates with), and the condition editor used by paths and step conditions.
import React, { useEffect, useState } from "react";

let fieldCounter = 0;
function useFieldId(prefix) {
  const [id] = useState(() => {
    fieldCounter += 1;
    return `${prefix}-${fieldCounter}`;
  });
  return id;
}

export function Problems({ messages }) {
  if (!messages || !messages.length) return null;
  return (
    <ul className="jc-problems" role="alert">
      {messages.map((m) => <li key={m}>{m}</li>)}
    </ul>
  );
}

function JsonField({ id, value, onChange, rows = 3 }) {
  const [text, setText] = useState(() => (value === undefined ? "" : JSON.stringify(value, null, 2)));
  const [bad, setBad] = useState("");
  useEffect(() => {
    setText(value === undefined ? "" : JSON.stringify(value, null, 2));
  }, [JSON.stringify(value)]);
  return (
    <>
      <textarea
        id={id}
        className={`jc-json${bad ? " jc-invalid" : ""}`}
        rows={rows}
        value={text}
        spellCheck={false}
        onChange={(e) => {
          setText(e.target.value);
          if (!e.target.value.trim()) {
            setBad("");
            onChange(undefined);
            return;
          }
          try {
            const parsed = JSON.parse(e.target.value);
            setBad("");
            onChange(parsed);
          } catch (error) {
            setBad(error.message);
          }
        }}
      />
      {bad && <span className="jc-hint jc-bad">Not JSON yet: {bad}</span>}
    </>
  );
}

function orderedProperties(schema) {
  const properties = Object.entries(schema.properties || {});
  return properties.sort(([, a], [, b]) => (a["x-order"] ?? 0) - (b["x-order"] ?? 0));
}

export function SchemaForm({ schema, value, onChange, errors, stepKeys, secretKept, prefix }) {
  const config = value || {};
  const required = new Set(schema.required || []);
  const set = (name, v) => {
    const next = { ...config };
    if (v === undefined || v === "" || (Array.isArray(v) && !v.length)) delete next[name];
    else next[name] = v;
    onChange(next);
  };
  return (
    <div className="jc-schema-form">
      {orderedProperties(schema).map(([name, prop]) => (
        <SchemaField
          key={name}
          name={name}
          prop={prop}
          required={required.has(name)}
          value={config[name]}
          onChange={(v) => set(name, v)}
          errors={errors[`${prefix}${name}`] || Object.entries(errors).filter(([k]) => k.startsWith(`${prefix}${name}.`)).flatMap(([, m]) => m)}
          stepKeys={stepKeys}
          secretKept={secretKept}
        />
      ))}
    </div>
  );
}

function SchemaField({ name, prop, required, value, onChange, errors, stepKeys, secretKept }) {
  const id = useFieldId(`jc-${name}`);
  const widget = prop["x-widget"];
  const example = (prop.examples || [])[0];
  const placeholder = example !== undefined ? `e.g. ${typeof example === "string" ? example : JSON.stringify(example)}` : "";
  let input;
  if (widget === "secret") {
    input = (
      <input id={id} type="password" autoComplete="off" value={value || ""}
        placeholder={secretKept ? "kept — type a new one to replace it" : "generated when saved"}
        onChange={(e) => onChange(e.target.value)} />
    );
  } else if (widget === "step") {
    input = (
      <select id={id} value={value || ""} onChange={(e) => onChange(e.target.value)}>
        <option value="">—</option>
        {stepKeys.map((key) => <option key={key} value={key}>{key}</option>)}
      </select>
    );
  } else if (Array.isArray(prop.enum)) {
    input = (
      <select id={id} value={value ?? ""} onChange={(e) => onChange(e.target.value)}>
        {!prop.enum.includes("") && <option value="">—</option>}
        {prop.enum.map((option) => <option key={option} value={option}>{option === "" ? "—" : option}</option>)}
      </select>
    );
  } else if (prop.type === "boolean") {
    input = <input id={id} type="checkbox" checked={!!value} onChange={(e) => onChange(e.target.checked)} />;
  } else if (prop.type === "number" || prop.type === "integer") {
    input = (
      <input id={id} type="number" step={prop.type === "integer" ? 1 : "any"} value={value ?? ""} placeholder={placeholder}
        onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />
    );
  } else if (prop.type === "array" && (prop.items || {}).type === "string") {
    input = (
      <textarea id={id} rows={3} value={(value || []).join("\n")} placeholder="one a line"
        onChange={(e) => onChange(e.target.value.split("\n").map((s) => s.trim()).filter(Boolean))} />
    );
  } else if (widget === "json" || prop.type === "object" || prop.type === "array") {
    input = <JsonField id={id} value={value} onChange={onChange} />;
  } else if (widget === "textarea") {
    input = <textarea id={id} rows={4} value={value || ""} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} />;
  } else {
    input = <input id={id} type="text" value={value ?? ""} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <div className={`jc-field${errors.length ? " jc-field-error" : ""}`} data-field={name}>
      <label htmlFor={id}>{prop.title || name}{required && <span className="jc-required" title="required"> *</span>}</label>
      {input}
      {prop.description && <span className="jc-hint">{prop.description}</span>}
      <Problems messages={errors} />
    </div>
  );
}

const OPERATOR_LABELS = {
  eq: "equals", ne: "does not equal", gt: "is more than", gte: "is at least", lt: "is less than",
  lte: "is at most", in: "is one of", contains: "contains", exists: "exists",
};

function isSimple(condition) {
  return condition && typeof condition === "object" && "field" in condition && Object.keys(condition).every((k) => ["field", "op", "operator", "value"].includes(k));
}

function parseValue(text) {
  if (text === "") return "";
  try {
    const parsed = JSON.parse(text);
    return typeof parsed === "object" && !Array.isArray(parsed) ? text : parsed;
  } catch {
    return text;
  }
}

export function ConditionEditor({ value, onChange, operators, roots, label, errors }) {
  const fieldId = useFieldId("jc-cond-field");
  const [advanced, setAdvanced] = useState(() => value && !isSimple(value));
  const condition = value || { field: "", op: "eq", value: "" };
  const op = condition.op || condition.operator || "eq";
  const listId = `${fieldId}-roots`;
  return (
    <fieldset className="jc-condition">
      <legend>{label}</legend>
      {advanced ? (
        <JsonField id={fieldId} value={value || undefined} onChange={(v) => onChange(v || null)} rows={4} />
      ) : (
        <div className="jc-condition-row">
          <label className="jc-sr" htmlFor={fieldId}>Field</label>
          <input id={fieldId} type="text" list={listId} value={condition.field || ""} placeholder="payload.plan"
            aria-label="Field" onChange={(e) => onChange({ field: e.target.value, op, value: condition.value ?? "" })} />
          <datalist id={listId}>{roots.map((r) => <option key={r} value={`${r}.`} />)}</datalist>
          <select aria-label="Operator" value={op} onChange={(e) => onChange({ field: condition.field || "", op: e.target.value, value: condition.value ?? "" })}>
            {operators.map((o) => <option key={o} value={o}>{OPERATOR_LABELS[o] || o}</option>)}
          </select>
          {op !== "exists" && (
            <input type="text" aria-label="Value" value={typeof condition.value === "string" ? condition.value : JSON.stringify(condition.value ?? "")}
              placeholder="pro" onChange={(e) => onChange({ field: condition.field || "", op, value: parseValue(e.target.value) })} />
          )}
        </div>
      )}
      <button type="button" className="jc-link" onClick={() => setAdvanced(!advanced)}>
        {advanced ? "Simple form" : "Several conditions (all / any) as JSON"}
      </button>
      <Problems messages={errors} />
    </fieldset>
  );
}

export function JsonBox({ value, onChange }) {
  const id = useFieldId("jc-json");
  return <JsonField id={id} value={value} onChange={onChange} rows={5} />;
}
