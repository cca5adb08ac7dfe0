/* Vigie zone editor: draw the camera's zones, lines, directions, masks and calibration points.
   Plain JavaScript and a canvas; every change is checked by the box's config checker. */
"use strict";

const vigie = (() => {
  const M = 40;                     // margin around the picture: points may be put outside it
  const HIT = 9;                    // pixels within which a point is grabbed
  const canvas = document.getElementById("canvas");
  const ctx = canvas.getContext("2d");
  const panel = document.getElementById("panel");
  const S = {
    layout: {zones: [], lines: [], privacy_masks: [], rules: [], calibration: null},
    forms: [], problems: [], t: {}, frame: null, img: null, tool: "edit",
    sel: null, draft: [], drag: null, dirRule: null, dirStart: null, dirEnd: null,
    loop: null, dirty: false, sentMasks: "",
  };
  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") e.textContent = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    kids.forEach(k => k && e.append(k));
    return e;
  };
  const T = k => S.t[k] || k;
  const r4 = v => Math.round(v * 10000) / 10000;

  // -- coordinates ----------------------------------------------------------------------------
  function size() {
    const fw = S.frame ? S.frame.width : 16, fh = S.frame ? S.frame.height : 9;
    const w = Math.min(960, window.innerWidth - 420) - 2 * M;
    return {w, h: w * fh / fw};
  }
  function toCanvas(p) { const {w, h} = size(); return [M + p[0] * w, M + p[1] * h]; }
  function toNorm(x, y) { const {w, h} = size(); return [r4((x - M) / w), r4((y - M) / h)]; }
  function toScreen(nx, ny) {
    const [x, y] = toCanvas([nx, ny]); const b = canvas.getBoundingClientRect();
    return {x: b.left + x, y: b.top + y};
  }
  function eventPoint(ev) { const b = canvas.getBoundingClientRect(); return [ev.clientX - b.left, ev.clientY - b.top]; }

  // -- problems --------------------------------------------------------------------------------
  const LOC = /^(zones|lines|privacy_masks|rules)\[(\d+)\](?:\.(\w+))?/;
  function problemsOf(kind, i, fieldName) {
    return S.problems.filter(p => {
      const m = LOC.exec(p.location);
      if (!m || m[1] !== kind || +m[2] !== i) return false;
      return fieldName === undefined || m[3] === fieldName;
    });
  }
  function otherProblems() {
    return S.problems.filter(p => !LOC.test(p.location) && !p.location.startsWith("calibration"));
  }
  function bad(kind, i) { return problemsOf(kind, i).length > 0; }

  // -- drawing ---------------------------------------------------------------------------------
  function poly(points, stroke, fill, closed = true, dash = []) {
    if (!points.length) return;
    ctx.beginPath();
    points.forEach((p, k) => { const [x, y] = toCanvas(p); k ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    if (closed) ctx.closePath();
    if (fill) { ctx.fillStyle = fill; ctx.fill(); }
    ctx.setLineDash(dash); ctx.strokeStyle = stroke; ctx.lineWidth = 2; ctx.stroke(); ctx.setLineDash([]);
    points.forEach(p => { const [x, y] = toCanvas(p); ctx.fillStyle = stroke; ctx.fillRect(x - 3, y - 3, 6, 6); });
  }
  function arrow(from, to, colour) {
    const [x1, y1] = from, [x2, y2] = to, a = Math.atan2(y2 - y1, x2 - x1);
    ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2);
    ctx.lineTo(x2 - 10 * Math.cos(a - 0.4), y2 - 10 * Math.sin(a - 0.4));
    ctx.moveTo(x2, y2); ctx.lineTo(x2 - 10 * Math.cos(a + 0.4), y2 - 10 * Math.sin(a + 0.4));
    ctx.strokeStyle = colour; ctx.lineWidth = 2.5; ctx.stroke();
  }
  function label(text, p, colour) {
    const [x, y] = toCanvas(p); ctx.font = "13px sans-serif"; ctx.fillStyle = "rgba(0,0,0,.6)";
    ctx.fillRect(x + 4, y - 16, ctx.measureText(text).width + 6, 16); ctx.fillStyle = colour; ctx.fillText(text, x + 7, y - 4);
  }
  function centroid(points) {
    const n = points.length || 1;
    return [points.reduce((s, p) => s + p[0], 0) / n, points.reduce((s, p) => s + p[1], 0) / n];
  }
  function draw() {
    const {w, h} = size();
    canvas.width = w + 2 * M; canvas.height = h + 2 * M;
    ctx.fillStyle = "#666"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (S.img) ctx.drawImage(S.img, M, M, w, h); else { ctx.fillStyle = "#333"; ctx.fillRect(M, M, w, h); }
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 1; ctx.strokeRect(M, M, w, h);
    const L = S.layout;
    L.privacy_masks.forEach((m, i) => {
      poly(m.polygon, bad("privacy_masks", i) ? "#ff1744" : "#ffffff", "rgba(0,0,0,.85)", true, [6, 4]);
      label(m.name, m.polygon[0], "#fff");
    });
    L.zones.forEach((z, i) => {
      const sel = S.sel && S.sel.kind === "zones" && S.sel.i === i;
      poly(z.polygon, bad("zones", i) ? "#ff1744" : "#ffd700", sel ? "rgba(255,215,0,.25)" : "rgba(255,215,0,.1)");
      label(z.name, z.polygon[0], bad("zones", i) ? "#ff8a80" : "#ffd700");
    });
    L.lines.forEach((ln, i) => {
      const col = bad("lines", i) ? "#ff1744" : "#00e5ff";
      poly([ln.a, ln.b], col, null, false);
      const [ax, ay] = toCanvas(ln.a), [bx, by] = toCanvas(ln.b), mx = (ax + bx) / 2, my = (ay + by) / 2;
      const len = Math.hypot(bx - ax, by - ay) || 1, nx = -(by - ay) / len, ny = (bx - ax) / len;
      arrow([mx, my], [mx + nx * 28, my + ny * 28], col);      // forward: left of a->b to its right
      label(`${ln.name} (A)`, ln.a, col); label("B", ln.b, col);
    });
    L.rules.forEach((r, i) => {
      if (r.type !== "wrong_way" || !r.direction) return;
      const z = L.zones.find(zz => zz.name === r.zone); if (!z) return;
      const c = toCanvas(centroid(z.polygon)), d = r.direction, n = Math.hypot(d[0], d[1]) || 1;
      arrow(c, [c[0] + 60 * d[0] / n, c[1] + 60 * d[1] / n], bad("rules", i) ? "#ff1744" : "#ff40ff");
    });
    if (L.calibration && L.calibration.image) {
      L.calibration.image.forEach((p, k) => { poly([p], "#00e676", null, false); label(`${k + 1}`, p, "#00e676"); });
    }
    if (S.draft.length) poly(S.draft, "#ffffff", null, S.tool !== "line", [4, 3]);
    if (S.dirStart && S.dirEnd) arrow(S.dirStart, S.dirEnd, "#ff40ff");
  }

  // -- hit testing and editing -------------------------------------------------------------------
  function handles() {
    const out = [], L = S.layout;
    for (const kind of ["zones", "privacy_masks"]) L[kind].forEach((s, i) => s.polygon.forEach((p, k) => out.push({kind, i, k, p})));
    L.lines.forEach((ln, i) => { out.push({kind: "lines", i, k: "a", p: ln.a}); out.push({kind: "lines", i, k: "b", p: ln.b}); });
    if (L.calibration) L.calibration.image.forEach((p, k) => out.push({kind: "calibration", i: 0, k, p}));
    return out;
  }
  function hit(x, y) {
    let best = null, bestD = HIT;
    for (const h of handles()) {
      const [hx, hy] = toCanvas(h.p), d = Math.hypot(hx - x, hy - y);
      if (d <= bestD) { best = h; bestD = d; }
    }
    return best;
  }
  function setPoint(h, p) {
    const L = S.layout;
    if (h.kind === "lines") L.lines[h.i][h.k] = p;
    else if (h.kind === "calibration") L.calibration.image[h.k] = p;
    else L[h.kind][h.i].polygon[h.k] = p;
  }
  function edgeAt(x, y) {
    for (const kind of ["zones", "privacy_masks"]) {
      for (let i = 0; i < S.layout[kind].length; i++) {
        const pts = S.layout[kind][i].polygon.map(toCanvas);
        for (let k = 0; k < pts.length; k++) {
          const a = pts[k], b = pts[(k + 1) % pts.length], dx = b[0] - a[0], dy = b[1] - a[1];
          const t = Math.max(0, Math.min(1, ((x - a[0]) * dx + (y - a[1]) * dy) / (dx * dx + dy * dy || 1)));
          if (Math.hypot(a[0] + t * dx - x, a[1] + t * dy - y) < HIT) return {kind, i, k};
        }
      }
    }
    return null;
  }
  function uniqueName(kind, base) {
    const names = new Set(S.layout[kind].map(s => s.name));
    for (let n = 1; ; n++) if (!names.has(`${base}-${n}`)) return `${base}-${n}`;
  }
  function finishDraft() {
    if (S.tool === "zone" && S.draft.length >= 3) {
      S.layout.zones.push({name: uniqueName("zones", T("new_zone")), polygon: S.draft});
      S.sel = {kind: "zones", i: S.layout.zones.length - 1};
    } else if (S.tool === "mask" && S.draft.length >= 3) {
      S.layout.privacy_masks.push({name: uniqueName("privacy_masks", T("new_mask")), polygon: S.draft});
    } else return;
    S.draft = []; changed(true);
  }
  function onDown(ev) {
    const [x, y] = eventPoint(ev);
    if (ev.button !== 0) return;
    canvas.focus();
    if (S.tool === "edit") {
      const h = hit(x, y); if (h) { S.drag = h; ev.preventDefault(); }
      return;
    }
    if (S.tool === "direction") { S.dirStart = [x, y]; S.dirEnd = null; return; }
    const p = toNorm(x, y);
    if (S.tool === "zone" || S.tool === "mask") S.draft.push(p);
    else if (S.tool === "line") {
      S.draft.push(p);
      if (S.draft.length === 2) {
        S.layout.lines.push({name: uniqueName("lines", T("new_line")), a: S.draft[0], b: S.draft[1]});
        S.draft = []; changed(true);
      }
    } else if (S.tool === "calibration") {
      let c = S.layout.calibration;
      if (!c || c.image.length >= 4) c = S.layout.calibration = {image: [], ground: c ? c.ground : []};
      c.image.push(p);
      if (c.ground.length < c.image.length) c.ground.push([0, 0]);
      changed(true);
    }
    draw();
  }
  function onMove(ev) {
    const [x, y] = eventPoint(ev);
    if (S.drag) { setPoint(S.drag, toNorm(x, y)); draw(); }
    else if (S.dirStart) { S.dirEnd = [x, y]; draw(); }
  }
  function onUp(ev) {
    if (S.drag) { S.drag = null; changed(false); return; }
    if (S.dirStart) {
      const [x, y] = eventPoint(ev), [x0, y0] = S.dirStart; S.dirStart = null; S.dirEnd = null;
      const rule = S.layout.rules[S.dirRule ?? S.layout.rules.findIndex(r => r.type === "wrong_way")];
      if (rule && Math.hypot(x - x0, y - y0) > 5) {
        const n = Math.hypot(x - x0, y - y0); rule.direction = [r4((x - x0) / n), r4((y - y0) / n)];
        changed(true);
      } else draw();
    }
  }
  function onDouble(ev) {
    const [x, y] = eventPoint(ev);
    if (S.tool === "zone" || S.tool === "mask") {    // the two clicks of the double-click added points
      S.draft = S.draft.filter((p, k) => k === 0 || Math.hypot(...toCanvas(p).map((v, j) => v - toCanvas(S.draft[k - 1])[j])) > 3);
      finishDraft(); return;
    }
    if (S.tool !== "edit") return;
    const e = edgeAt(x, y);
    if (e) { S.layout[e.kind][e.i].polygon.splice(e.k + 1, 0, toNorm(x, y)); changed(true); }
  }
  function onContext(ev) {
    const [x, y] = eventPoint(ev), h = hit(x, y);
    if (!h) return;
    ev.preventDefault();
    if ((h.kind === "zones" || h.kind === "privacy_masks") && S.layout[h.kind][h.i].polygon.length > 3) {
      S.layout[h.kind][h.i].polygon.splice(h.k, 1); changed(true);
    }
  }
  function onKey(ev) {
    if (ev.key === "Enter") finishDraft();
    else if (ev.key === "Escape") { S.draft = []; draw(); }
  }

  // -- the side panel ----------------------------------------------------------------------------
  function problemList(list) {
    return list.length ? el("div", {}, ...list.map(p => el("p", {class: "problem", text: `${p.location} : ${p.message}`}))) : null;
  }
  function shapeItem(kind, i, extra) {
    const s = S.layout[kind][i];
    const name = el("input", {type: "text", value: s.name, id: `name-${kind}-${i}`, class: "name",
      oninput: e => {
        const before = s.name; s.name = e.target.value;
        if (kind === "zones") S.layout.rules.forEach(r => { if (r.zone === before) r.zone = s.name; });
        changed(false);
      }});
    const del = el("button", {type: "button", text: T("delete"), onclick: () => {
      const old = s.name; S.layout[kind].splice(i, 1);
      if (kind === "zones") S.layout.rules = S.layout.rules.filter(r => r.zone !== old || !formOf(r.type).zoneRequired);
      changed(true);
    }});
    const sel = S.sel && S.sel.kind === kind && S.sel.i === i;
    const item = el("div", {class: `item${sel ? " selected" : ""}${bad(kind, i) ? " bad" : ""}`, id: `${kind}-${i}`,
      onclick: () => { if (kind === "zones" && !(S.sel && S.sel.i === i && S.sel.kind === kind)) { S.sel = {kind, i}; renderPanel(); draw(); } }},
      el("label", {text: `${T("name")} `}, name), " ", del, extra || null);
    item.append(el("div", {class: "problems", id: `problems-${kind}-${i}`}, problemList(problemsOf(kind, i))));
    return item;
  }
  function formOf(type) {
    const f = S.forms.find(x => x.type === type) || {fields: []};
    f.zoneRequired = f.fields.some(x => x.name === "zone" && x.required);
    return f;
  }
  function fieldInput(rule, i, fd) {
    const id = `rule-${i}-${fd.name}`, has = Object.prototype.hasOwnProperty.call(rule, fd.name);
    const value = has ? rule[fd.name] : fd.default;
    const set = v => {
      const same = JSON.stringify(v) === JSON.stringify(fd.default);
      if ((v === "" || v === null || same) && !fd.required) delete rule[fd.name]; else rule[fd.name] = v;
      changed(fd.kind === "zone" || fd.kind === "vector");
    };
    let input;
    if (fd.kind === "zone") {
      input = el("select", {id, onchange: e => set(e.target.value || null)},
        fd.required ? null : el("option", {value: "", text: T("whole_frame")}),
        ...S.layout.zones.map(z => el("option", {value: z.name, text: z.name, selected: z.name === value})));
    } else if (fd.kind === "enum") {
      input = el("select", {id, onchange: e => set(e.target.value)},
        ...fd.options.map(o => el("option", {value: o, text: o, selected: o === value})));
    } else if (fd.kind === "boolean") {
      input = el("input", {id, type: "checkbox", checked: !!value, onchange: e => set(e.target.checked)});
    } else if (fd.kind === "number" || fd.kind === "integer") {
      input = el("input", {id, type: "number", value: value ?? "", step: fd.kind === "integer" ? 1 : "any",
        min: fd.min ?? fd.gt, max: fd.max ?? fd.lt,
        onchange: e => set(e.target.value === "" ? null : Number(e.target.value))});
    } else if (fd.kind === "list") {
      input = el("input", {id, type: "text", value: (value || []).join(", "),
        onchange: e => set(e.target.value.split(",").map(s => s.trim()).filter(Boolean))});
    } else if (fd.kind === "vector") {
      const v = value || [1, 0];
      const num = k => el("input", {type: "number", step: "any", value: v[k], id: `${id}-${k}`,
        onchange: e => { const nv = [...(rule[fd.name] || v)]; nv[k] = Number(e.target.value); set(nv); }});
      input = el("span", {}, num(0), num(1), " ",
        el("button", {type: "button", text: T("draw_direction"), onclick: () => { S.dirRule = i; setTool("direction"); }}));
    } else {
      input = el("input", {id, type: "text", value: value ?? "", onchange: e => set(e.target.value)});
    }
    const limits = [fd.min !== undefined ? `≥ ${fd.min}` : fd.gt !== undefined ? `> ${fd.gt}` : "",
      fd.max !== undefined ? `≤ ${fd.max}` : fd.lt !== undefined ? `< ${fd.lt}` : ""].filter(Boolean).join(", ");
    const dflt = fd.default !== null && fd.default !== undefined ? `${T("default")} ${JSON.stringify(fd.default)}` : "";
    return el("div", {class: "field"}, el("label", {for: id, text: fd.name}), input,
      el("small", {text: [fd.description, dflt, limits].filter(Boolean).join(" · ")}),
      problemList(problemsOf("rules", i, fd.name)));
  }
  function ruleItem(rule, i) {
    const form = formOf(rule.type);
    const del = el("button", {type: "button", text: T("delete"), onclick: () => { S.layout.rules.splice(i, 1); changed(true); }});
    const head = el("div", {}, el("strong", {text: rule.type}), rule.zone ? ` ${T("for_zone")} ${rule.zone} ` : " ", del);
    const own = problemsOf("rules", i).filter(p => !form.fields.some(f => (LOC.exec(p.location) || [])[3] === f.name));
    return el("div", {class: `item${bad("rules", i) ? " bad" : ""}`, id: `rules-${i}`}, head,
      ...form.fields.map(fd => fieldInput(rule, i, fd)), problemList(own));
  }
  function calibrationBox() {
    const c = S.layout.calibration;
    const box = el("fieldset", {id: "calibration"}, el("legend", {text: T("calibration")}));
    if (!c) return box;
    c.image.forEach((p, k) => {
      const g = c.ground[k] || [0, 0];
      const num = j => el("input", {type: "number", step: "any", value: g[j], id: `ground-${k}-${j}`,
        onchange: e => { c.ground[k] = [...(c.ground[k] || [0, 0])]; c.ground[k][j] = Number(e.target.value); changed(false); }});
      box.append(el("div", {class: "field"}, el("label", {text: `${T("point")} ${k + 1} [${p.join(", ")}]`}),
        el("span", {}, `${T("ground_m")} `, num(0), num(1))));
    });
    box.append(el("button", {type: "button", text: T("delete"), onclick: () => { S.layout.calibration = null; changed(true); }}));
    box.append(problemList(S.problems.filter(p => p.location.startsWith("calibration"))) || "");
    return box;
  }
  function renderPanel() {
    const L = S.layout;
    panel.replaceChildren(
      el("fieldset", {id: "zones"}, el("legend", {text: T("zones")}), ...L.zones.map((_, i) => shapeItem("zones", i))),
      el("fieldset", {id: "lines"}, el("legend", {text: T("lines")}), ...L.lines.map((ln, i) => shapeItem("lines", i,
        el("button", {type: "button", text: T("swap"), onclick: () => { [ln.a, ln.b] = [ln.b, ln.a]; changed(true); }})))),
      el("fieldset", {id: "privacy_masks"}, el("legend", {text: T("masks")}), ...L.privacy_masks.map((_, i) => shapeItem("privacy_masks", i))),
      calibrationBox(),
      el("fieldset", {id: "rules"}, el("legend", {text: T("rules")}), ...L.rules.map(ruleItem), addRule()),
    );
    const other = document.getElementById("problems-other");
    other.replaceChildren(...otherProblems().map(p => el("li", {text: `${p.line ? "l. " + p.line + " · " : ""}${p.location} : ${p.message}`})));
  }
  function addRule() {
    const type = el("select", {id: "add-rule-type"}, ...S.forms.map(f => el("option", {value: f.type, text: f.type})));
    return el("div", {class: "item"}, el("label", {text: `${T("rule_type")} `}, type), " ",
      el("button", {type: "button", id: "add-rule", text: T("add_rule"), onclick: () => {
        const form = formOf(type.value), rule = {type: type.value};
        const zone = S.sel && S.sel.kind === "zones" ? L().zones[S.sel.i] : L().zones[0];
        for (const fd of form.fields) {
          if (fd.name === "zone" && (fd.required || zone)) rule.zone = zone ? zone.name : "";
          else if (fd.required && fd.kind === "vector") rule[fd.name] = [1, 0];
        }
        L().rules.push(rule); changed(true);
      }}));
  }
  const L = () => S.layout;

  // -- server calls ------------------------------------------------------------------------------
  async function api(path, body) {
    const opts = body === undefined ? {} : {method: "POST", headers: {"Content-Type": "application/json", "X-Vigie-Setup": "1"},
      body: JSON.stringify(body)};
    const r = await fetch(path, opts);
    return {status: r.status, data: await r.json()};
  }
  let timer = null, seq = 0;
  function changed(structural) {
    S.dirty = true; document.getElementById("saved").hidden = true;
    if (structural) renderPanel();
    draw();
    clearTimeout(timer); timer = setTimeout(check, 250);
  }
  async function check() {
    const mine = ++seq;
    const {data} = await api("/api/check", {layout: S.layout});
    if (mine !== seq) return;
    S.problems = data.problems; showStatus();
    const masks = JSON.stringify(S.layout.privacy_masks);
    if (masks !== S.sentMasks) { S.sentMasks = masks; loadFrame(); }
    const active = document.activeElement, focus = active && active.id, at = active && active.selectionStart;
    renderPanel(); draw();
    const again = focus && document.getElementById(focus);
    if (again) { again.focus(); if (typeof at === "number" && again.setSelectionRange) try { again.setSelectionRange(at, at); } catch (e) { /* not a text input */ } }
  }
  function showStatus() {
    const st = document.getElementById("status"), n = S.problems.length;
    st.className = `status ${n ? "bad" : "ok"}`;
    st.textContent = n ? `${n} ${T("check_bad")}` : `${T("check_ok")}${S.dirty ? " · " + T("unsaved") : ""}`;
    st.dataset.problems = n;
  }
  function loadFrame(n) {
    return new Promise(resolve => {
      const img = new Image();
      img.onload = () => { S.img = img; document.getElementById("camera").hidden = true; draw(); resolve(true); };
      img.onerror = async () => {
        const cam = document.getElementById("camera");
        try { const {data} = await api("/api/frame"); cam.textContent = `${data.error} : ${data.detail}`; }
        catch (e) { cam.textContent = T("camera_down"); }
        cam.hidden = false; resolve(false);
      };
      img.src = `/api/frame?${n !== undefined ? "n=" + n + "&" : ""}t=${Date.now()}`;
    });
  }
  async function toggleLoop() {
    const btn = document.getElementById("loop");
    if (S.loop) { clearInterval(S.loop); S.loop = null; btn.textContent = T("loop"); loadFrame(); return; }
    const {data} = await api("/api/loop?seconds=5");
    if (!data.frames.length) return;
    const imgs = data.frames.map(n => { const im = new Image(); im.src = `/api/frame?n=${n}`; return im; });
    let k = 0; btn.textContent = T("loop_stop");
    S.loop = setInterval(() => { const im = imgs[k++ % imgs.length]; if (im.complete && im.naturalWidth) { S.img = im; draw(); } }, 200);
  }
  async function save() {
    const {status, data} = await api("/api/save", {layout: S.layout});
    S.problems = data.problems || []; renderPanel(); draw();
    const out = document.getElementById("saved");
    if (status === 200) { S.dirty = false; out.className = "saved"; out.textContent = `${T("saved")} ${data.previous}`; }
    else { out.className = "problem"; out.textContent = `${T("save_refused")} : ${S.problems.length} ${T("check_bad")}`; }
    out.hidden = false; showStatus();
  }
  async function tryIt() {
    const file = document.getElementById("try-file").value.trim();
    const body = {layout: S.layout, seconds: Number(document.getElementById("try-seconds").value) || 10};
    if (file) body.file = file;
    const most = Number(document.getElementById("try-max").value);
    if (most > 0) body.max_frames = most;
    const status = document.getElementById("try-status"), bar = document.getElementById("try-progress");
    const {status: code, data} = await api("/api/try", body);
    if (code !== 200) {
      if (data.problems) { S.problems = data.problems; renderPanel(); draw(); showStatus(); }
      status.textContent = `${T("try_failed")} : ${data.error || (data.problems || []).length + " " + T("check_bad")}`;
      status.dataset.state = "failed"; return;
    }
    status.dataset.state = "running"; bar.hidden = false;
    document.getElementById("try-events").replaceChildren(); document.getElementById("try-shots").replaceChildren();
    const poll = async () => {
      const {data: run} = await api(`/api/try/${data.id}`);
      bar.max = run.total || 1; bar.value = run.done;
      status.textContent = `${T("try_running")} : ${run.done} / ${run.total || "?"} ${T("frame")}`;
      if (run.state === "running") { setTimeout(poll, 400); return; }
      bar.hidden = true; status.dataset.state = run.state;
      if (run.state === "failed") { status.textContent = `${T("try_failed")} : ${run.error}`; return; }
      status.textContent = `${T("try_done")} : ${run.done} ${T("frame")}`;
      document.getElementById("try-events").replaceChildren(...(run.events.length ? run.events.map(e => el("li", {class: "event",
        text: `${e.type} · ${e.zone || ""} · ${T("event_" + e.state)} · ${T("frame")} ${e.frame} (${e.t} s)`}))
        : [el("li", {text: T("events_none")})]));
      document.getElementById("try-shots").replaceChildren(...run.shots.map(i => el("img", {src: `/api/try/${run.id}/shot/${i}`, alt: `${T("frame")} ${i}`})));
    };
    poll();
  }
  function setTool(tool) {
    S.tool = tool; S.draft = [];
    document.querySelectorAll("button.tool").forEach(b => b.classList.toggle("on", b.dataset.tool === tool));
    document.getElementById("help").textContent = T(`help_${tool}`);
    draw();
  }

  async function start() {
    const {data} = await api("/api/state");
    Object.assign(S, {t: data.messages, forms: data.forms, problems: data.problems, frame: data.frame});
    for (const k of ["zones", "lines", "privacy_masks", "rules"]) S.layout[k] = data.layout[k] || [];
    S.layout.calibration = data.layout.calibration;
    S.sentMasks = JSON.stringify(S.layout.privacy_masks);
    if (data.camera_problem) { const cam = document.getElementById("camera"); cam.textContent = `${T("camera_down")} : ${data.camera_problem}`; cam.hidden = false; }
    document.querySelectorAll("button.tool").forEach(b => b.addEventListener("click", () => setTool(b.dataset.tool)));
    document.getElementById("refresh").addEventListener("click", () => loadFrame());
    document.getElementById("loop").addEventListener("click", toggleLoop);
    document.getElementById("save").addEventListener("click", save);
    document.getElementById("try-run").addEventListener("click", tryIt);
    document.getElementById("try-seconds").max = data.keep_s;
    canvas.addEventListener("mousedown", onDown);
    window.addEventListener("mousemove", onMove);
    window.addEventListener("mouseup", onUp);
    canvas.addEventListener("dblclick", onDouble);
    canvas.addEventListener("contextmenu", onContext);
    canvas.addEventListener("keydown", onKey);
    setTool("edit"); renderPanel(); showStatus();
    if (data.frame) { await loadFrame(); if (!S.frame) S.frame = {width: S.img.naturalWidth, height: S.img.naturalHeight}; }
    draw();
    document.body.dataset.ready = "1";
  }
  start();
  return {toScreen, state: S};
})();
window.vigie = vigie;
