/* The journey builder's JSON editor: checks JSON as staff type, tidies it on leaving the field,
 * and shows the example config of the chosen action type. No library; the server validates
 * everything again (each action type's rules and the whole graph) when the form is saved. */
(function () {
  "use strict";

  function status(textarea) {
    var next = textarea.nextElementSibling;
    if (next && next.classList && next.classList.contains("json-status")) { return next; }
    var span = document.createElement("span");
    span.className = "json-status";
    textarea.insertAdjacentElement("afterend", span);
    return span;
  }

  function check(textarea) {
    var text = textarea.value.trim();
    var badge = status(textarea);
    if (!text) { textarea.classList.remove("json-invalid"); badge.textContent = ""; return true; }
    try {
      JSON.parse(text);
      textarea.classList.remove("json-invalid");
      badge.textContent = "✓ JSON";
      badge.className = "json-status good";
      return true;
    } catch (error) {
      textarea.classList.add("json-invalid");
      badge.textContent = "✗ " + error.message;
      badge.className = "json-status bad";
      return false;
    }
  }

  function tidy(textarea) {
    if (!check(textarea) || !textarea.value.trim()) { return; }
    textarea.value = JSON.stringify(JSON.parse(textarea.value), null, 2);
  }

  function showExample(select) {
    var examples = window.JOURNEY_ACTION_EXAMPLES || {};
    var row = select.closest(".inline-related") || document;
    var hint = row.querySelector(".action-example");
    if (!hint) {
      hint = document.createElement("div");
      hint.className = "action-example";
      select.insertAdjacentElement("afterend", hint);
    }
    var example = examples[select.value];
    hint.innerHTML = "";
    if (!example) { return; }
    hint.appendChild(document.createTextNode("Example config: "));
    var code = document.createElement("code");
    code.textContent = JSON.stringify(example);
    hint.appendChild(code);
  }

  document.addEventListener("input", function (event) {
    if (event.target.classList && event.target.classList.contains("json-editor")) { check(event.target); }
  });
  document.addEventListener("focusout", function (event) {
    if (event.target.classList && event.target.classList.contains("json-editor")) { tidy(event.target); }
  });
  // Only the settings a step's kind uses are shown: an action type and retries for actions,
  // a delay for steps that do not wait by themselves.
  var KIND_FIELDS = {
    "field-action_type": ["action"],
    "field-max_attempts": ["action"],
    "field-on_failure": ["action"],
    "field-delay_minutes": ["action", "branch", "split"]
  };

  function showKindFields(select) {
    var row = select.closest(".inline-related");
    if (!row) { return; }
    Object.keys(KIND_FIELDS).forEach(function (name) {
      var shown = KIND_FIELDS[name].indexOf(select.value) !== -1;
      row.querySelectorAll("." + name).forEach(function (box) { box.hidden = !shown; });
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.classList && event.target.classList.contains("step-action-type")) { showExample(event.target); }
    if (event.target.classList && event.target.classList.contains("step-kind")) { showKindFields(event.target); }
  });
  document.addEventListener("formset:added", function (event) {
    var select = event.target.querySelector && event.target.querySelector(".step-kind");
    if (select) { showKindFields(select); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("journey-action-examples");
    if (data) { window.JOURNEY_ACTION_EXAMPLES = JSON.parse(data.textContent); }
    document.querySelectorAll(".json-editor").forEach(check);
    document.querySelectorAll(".step-action-type").forEach(showExample);
    document.querySelectorAll(".step-kind").forEach(showKindFields);
  });
})();
