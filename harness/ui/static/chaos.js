// The Chaos tab's form, drawn into Locust's own page (Locust lists the tab through its
// extended_tabs template argument and fills the tab's table from extended_stats; this script
// adds the form above that table while the tab is open). Everything it knows comes from the
// Chaos API on this same port (/chaos/*): the fault form is generated from each fault type's
// JSON Schema, so a new fault type needs no change here.
(function () {
  "use strict";
  var TAB = "chaos";
  var system = null;
  var lastEvent = 0;
  var events = [];

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; } else { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }

  function api(method, path, body) {
    var init = { method: method, headers: { "Content-Type": "application/json", "X-Chaos-Client": "ui" } };
    if (body !== undefined) { init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { status: r.status, data: data }; });
    });
  }

  function clock(t) {
    var d = new Date(t * 1000);
    return d.toLocaleTimeString([], { hour12: false });
  }

  function tabOpen() { return new URLSearchParams(window.location.search).get("tab") === TAB; }

  function faultType(name) {
    return (system.fault_types || []).filter(function (t) { return t.name === name; })[0];
  }

  // One input per attribute, from the type's JSON Schema (types, enums, defaults, descriptions).
  function attributeInputs(type) {
    var box = document.getElementById("chaos-attributes");
    box.innerHTML = "";
    var schema = type.attributes || {};
    var props = schema.properties || {};
    var required = schema.required || [];
    Object.keys(props).forEach(function (name) {
      var p = props[name];
      var variants = p.anyOf ? p.anyOf.filter(function (v) { return v.type !== "null"; }) : [p];
      var v = variants[0] || {};
      var label = name + (required.indexOf(name) >= 0 ? " *" : "") + (p.description ? " (" + p.description + ")" : "");
      var input;
      if (v.enum) {
        input = el("select", {});
        if (p.anyOf) { input.appendChild(el("option", { value: "", text: "(default)" })); }
        v.enum.forEach(function (o) { input.appendChild(el("option", { value: o, text: o })); });
        if (p["default"] !== undefined && p["default"] !== null) { input.value = p["default"]; }
      } else if (v.type === "boolean") {
        input = el("input", { type: "checkbox" });
        input.checked = p["default"] === true;
      } else {
        input = el("input", { type: "text", placeholder: v.type === "integer" ? "a whole number or a duration like 500ms" : "" });
        if (p["default"] !== undefined && p["default"] !== null && p["default"] !== "") { input.value = p["default"]; }
      }
      input.setAttribute("data-attr", name);
      input.setAttribute("data-type", v.type || "string");
      input.id = "chaos-attr-" + name;
      box.appendChild(el("label", { "for": input.id, text: label }));
      box.appendChild(input);
    });
    if (!Object.keys(props).length) { box.appendChild(el("div", { "class": "chaos-muted", text: "no attributes" })); }
    var targets = document.getElementById("chaos-target");
    targets.innerHTML = "";
    (type.target_kind === "edge" ? system.edges : system.services).forEach(function (t) {
      targets.appendChild(el("option", { value: t, text: t }));
    });
    document.getElementById("chaos-target-label").textContent = type.target_kind;
    document.getElementById("chaos-envelope").style.display = type.per_connection ? "" : "none";
    document.getElementById("chaos-stream").value = type.default_stream || "downstream";
  }

  function readAttributes() {
    var out = {};
    document.querySelectorAll("#chaos-attributes [data-attr]").forEach(function (input) {
      var name = input.getAttribute("data-attr");
      var type = input.getAttribute("data-type");
      if (input.type === "checkbox") { out[name] = input.checked; return; }
      var value = input.value.trim();
      if (value === "") { return; }
      if ((type === "integer" || type === "number") && /^-?\d+(\.\d+)?$/.test(value)) { value = Number(value); }
      out[name] = value;
    });
    return out;
  }

  function applyFault() {
    var type = faultType(document.getElementById("chaos-type").value);
    var body = { type: type.name, attributes: readAttributes() };
    body[type.target_kind] = document.getElementById("chaos-target").value;
    var name = document.getElementById("chaos-name").value.trim();
    if (name) { body.name = name; }
    var duration = document.getElementById("chaos-duration").value.trim();
    if (duration) { body.duration = duration; }
    if (type.per_connection) {
      body.stream = document.getElementById("chaos-stream").value;
      var tox = document.getElementById("chaos-toxicity").value.trim();
      if (tox !== "" && tox !== "1") { body.toxicity = Number(tox); }
    }
    message("", "");
    api("POST", "/chaos/faults", body).then(function (r) {
      if (r.status >= 300) { message(r.data.error || ("HTTP " + r.status), ""); return; }
      message("", "applied " + r.data.name + " (" + r.data.type + " on " + r.data.target + ")");
      refresh();
    });
  }

  function message(error, ok) {
    document.getElementById("chaos-error").textContent = error;
    document.getElementById("chaos-ok").textContent = ok;
  }

  function renderActive(faults) {
    var body = document.getElementById("chaos-active");
    body.innerHTML = "";
    if (!faults.length) { body.appendChild(el("tr", {}, [el("td", { colspan: "5", "class": "chaos-muted", text: "no fault active" })])); }
    faults.forEach(function (f) {
      var remove = el("button", { "class": "chaos-remove chaos-secondary", "data-fault": f.name, text: "Remove" });
      remove.addEventListener("click", function () {
        api("DELETE", "/chaos/faults/" + encodeURIComponent(f.name)).then(function (r) {
          if (r.status >= 300) { message(r.data.error || ("HTTP " + r.status), ""); } else { message("", "removed " + f.name); }
          refresh();
        });
      });
      body.appendChild(el("tr", { "data-fault": f.name }, [
        el("td", { text: f.name }), el("td", { text: f.type + " on " + f.target }),
        el("td", { text: JSON.stringify(f.attributes) }),
        el("td", { text: f.applied_at ? "since " + clock(f.applied_at) + " (" + f.by + ")" : "scheduled" }),
        el("td", {}, [remove])]));
    });
  }

  function renderEvents() {
    var body = document.getElementById("chaos-events-body");
    body.innerHTML = "";
    events.slice(-200).reverse().forEach(function (e) {
      var detail = Object.keys(e).filter(function (k) { return k !== "kind" && k !== "t"; })
        .map(function (k) { return k + "=" + (typeof e[k] === "object" ? JSON.stringify(e[k]) : e[k]); }).join(", ");
      var cls = (e.kind === "event" && e.state === "open") ? "chaos-open" : "";
      body.appendChild(el("tr", { "class": "chaos-event " + cls, "data-kind": e.kind }, [
        el("td", { text: clock(e.t) }), el("td", { text: e.kind === "event" ? (e.type || "event") : e.kind }),
        el("td", { text: detail.slice(0, 240) })]));
    });
  }

  var polling = false;
  function refresh() {
    if (!system) { return; }
    api("GET", "/chaos/faults").then(function (r) { if (r.status === 200) { renderActive(r.data); } });
    if (polling) { return; }  // one events poll at a time, or the same events arrive twice
    polling = true;
    api("GET", "/chaos/events?since=" + lastEvent).then(function (r) {
      polling = false;
      if (r.status !== 200 || !r.data.length) { return; }
      events = events.concat(r.data);
      lastEvent = r.data[r.data.length - 1].t;
      renderEvents();
    }, function () { polling = false; });
  }

  function build() {
    var types = el("select", { id: "chaos-type" });
    system.fault_types.forEach(function (t) { types.appendChild(el("option", { value: t.name, text: t.name + " (" + t.target_kind + ")" })); });
    var stream = el("select", { id: "chaos-stream" }, [el("option", { value: "downstream", text: "downstream" }),
                                                        el("option", { value: "upstream", text: "upstream" })]);
    var apply = el("button", { id: "chaos-apply", text: "Apply fault" });
    var timeline = el("button", { id: "chaos-timeline", "class": "chaos-secondary", text: "Start the experiment's timeline" });
    var stop = el("button", { id: "chaos-stop", "class": "chaos-danger", text: "Stop session" });
    var panel = el("div", { id: "chaos-panel" }, [
      el("h3", { text: "Chaos: " + system.system + " (" + system.experiment + ")" }),
      el("div", { "class": "chaos-muted", text: "services: " + system.services.join(", ") + " | edges: " + (system.edges.join(", ") || "none") }),
      el("div", { "class": "chaos-row" }, [
        el("div", { "class": "chaos-col" }, [
          el("label", { "for": "chaos-type", text: "fault type" }), types,
          el("label", { id: "chaos-target-label", "for": "chaos-target", text: "target" }), el("select", { id: "chaos-target" }),
          el("div", { id: "chaos-attributes" }),
          el("div", { id: "chaos-envelope" }, [el("label", { "for": "chaos-stream", text: "stream" }), stream,
            el("label", { "for": "chaos-toxicity", text: "toxicity (0-1)" }), el("input", { id: "chaos-toxicity", type: "text", value: "1" })]),
          el("label", { "for": "chaos-name", text: "name (optional)" }), el("input", { id: "chaos-name", type: "text" }),
          el("label", { "for": "chaos-duration", text: "duration (optional, e.g. 10s; default: until removed)" }),
          el("input", { id: "chaos-duration", type: "text" }),
          el("div", {}, [apply, timeline, stop]),
          el("div", { id: "chaos-error" }), el("div", { id: "chaos-ok" })]),
        el("div", { "class": "chaos-col" }, [
          el("h3", { text: "Active faults" }),
          el("table", {}, [el("tbody", { id: "chaos-active" })]),
          el("h3", { text: "Events (faults, target events, swarms)" }),
          el("div", { id: "chaos-events" }, [el("table", {}, [el("tbody", { id: "chaos-events-body" })])])])])]);
    types.addEventListener("change", function () { attributeInputs(faultType(types.value)); });
    apply.addEventListener("click", applyFault);
    timeline.addEventListener("click", function () {
      api("POST", "/chaos/timeline").then(function (r) {
        if (r.status >= 300) { message(r.data.error || ("HTTP " + r.status), ""); } else { message("", "timeline started"); }
        refresh();
      });
    });
    if (!system.timeline.length) { timeline.style.display = "none"; }
    stop.addEventListener("click", function () {
      if (!window.confirm("End the session? Every fault is removed, everything stopped, and the reports written.")) { return; }
      api("POST", "/chaos/stop").then(function () { message("", "session ending: see the harness's console for the report"); });
    });
    var preferred = system.fault_types.filter(function (t) { return t.name === "latency"; })[0] || system.fault_types[0];
    types.value = preferred.name;
    return panel;
  }

  var panel = null;
  function place() {
    var open = tabOpen();
    if (panel) { panel.style.display = open ? "" : "none"; }
    if (!open || !system) { return; }
    var tablist = document.querySelector("[role=tablist]");
    if (!tablist) { return; }
    var container = tablist.closest(".MuiContainer-root") || tablist.parentElement.parentElement;
    if (!panel) { panel = build(); }
    if (panel.parentElement !== container) {
      container.firstElementChild.insertAdjacentElement("afterend", panel);
      attributeInputs(faultType(panel.querySelector("#chaos-type").value));
      refresh();
    }
  }

  api("GET", "/chaos/system").then(function (r) {
    if (r.status !== 200) { return; }
    system = r.data;
    setInterval(place, 300);
    setInterval(function () { if (tabOpen()) { refresh(); } }, 1000);
  });
})();
