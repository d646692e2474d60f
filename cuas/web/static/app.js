// The cuas operator console: the live picture from /ws on a MapLibre map, the track list, a
// track's drill-down, the alert inbox, health and the look-back slider. Every text from the
// bus (ids, serials, reasons, notes) goes into the page with textContent, never as markup.
"use strict";
(() => {
  const P = window.cuasPicture, {CLASSES, LEVELS, COLOURS} = P;
  // The track list draws only the rows in view (ROW px each, OVERSCAN more either side), so a
  // thousand tracks cost a screenful of rows. Trails (the past positions) go to the GPU at most
  // every TRAIL_MS; each track's last stretch, from its trail's end to where it is now, goes with
  // every update. On a software-rendered map (no GPU) each redraw of the map costs milliseconds
  // to tens of milliseconds, so the page asks for one redraw per picture update, no more.
  const ROW = 20, OVERSCAN = 20, CHART_POINTS = 120, TRAIL_MS = 2000;
  const S = {me: null, tracks: new Map(), metas: new Map(), trails: new Map(), series: new Map(),
             alerts: new Map(), t: null, seq: -1, selected: null, past: null, history: null,
             trailS: 60, frames: 0, dirty: false, labels: new Map(), ws: null, ready: false,
             maxLabels: 40, trailsDirty: false, trailEnds: new Map(), listKeys: []};
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };
  const utc = (t) => (t === null || t === undefined) ? "–" :
    new Date(t * 1000).toISOString().substring(11, 19);
  const topClass = (m) => {
    if (!m) return "uav";
    let best = CLASSES[0];
    for (const c of CLASSES) if ((m.cls[c] || 0) > (m.cls[best] || 0)) best = c;
    return best;
  };
  const identText = (m) => {
    const i = m && m.idt;
    if (!i) return "";
    return i.callsign || i.rid || (i.icao ? "icao " + i.icao : "");
  };

  async function api(path, method, body) {
    const r = await fetch(path, {method: method || "GET", credentials: "same-origin",
      headers: body !== undefined ? {"Content-Type": "application/json",
                                     "X-CSRF-Token": S.me ? S.me.csrf : ""} :
               {"X-CSRF-Token": S.me ? S.me.csrf : ""},
      body: body !== undefined ? JSON.stringify(body) : undefined});
    if (r.status === 401) { location.assign("/login"); throw new Error("logged out"); }
    return r;
  }

  // The inbox, health and users panels (panels.js).
  const {onAlert, renderInbox, onHealth, loadUsers} = window.cuasPanels({S, $, el, utc, api, select});

  const empty = () => ({type: "FeatureCollection", features: []});
  let map = null;

  function initMap(site, session) {
    maplibregl.setWorkerUrl("/static/vendor/maplibre-gl-csp-worker.js");
    const sources = {};
    const layers = [{id: "bg", type: "background", paint: {"background-color": "#1b2129"}}];
    if (session.tile_url) {
      sources.tiles = {type: "raster", tiles: [session.tile_url], tileSize: 256,
                       attribution: session.attribution || ""};
      layers.push({id: "tiles", type: "raster", source: "tiles"});
    }
    map = new maplibregl.Map({container: "map", center: site.center, zoom: 14.5,
      style: {version: 8, sources, layers}, attributionControl: {compact: true},
      dragRotate: false, pitchWithRotate: false, fadeDuration: 0});
    map.touchZoomRotate.disableRotation();
    S.map = map;
    map.on("load", async () => {
      if (session.basemap) await addBasemap(session);
      for (const cls of CLASSES) for (const level of LEVELS) for (const mal of [false, true])
        map.addImage(`${cls}-${level}${mal ? "-mal" : ""}`, P.drawIcon(cls, level, mal));
      // The site layers too are cut into zoom-12 tiles (0.7 m steps): every map redraw draws each
      // tile of each source separately, and in software a dozen tiles cost far more than one.
      for (const k of ["zones", "assets", "sensors", "coverage"])
        map.addSource(k, {type: "geojson", data: site[k], maxzoom: 12, buffer: 64, tolerance: 0.2});
      // Looking back shows a past frame from a GeoJSON source (sent once per slider move).
      map.addSource("past", {type: "geojson", data: empty(), maxzoom: 12, buffer: 64, tolerance: 0.2});
      const levelColour = ["match", ["get", "level"], "low", COLOURS.low, "medium", COLOURS.medium,
        "high", COLOURS.high, "critical", COLOURS.critical, COLOURS.none];
      map.addLayer({id: "zones-fill", type: "fill", source: "zones",
        paint: {"fill-color": levelColour, "fill-opacity": 0.05}});
      map.addLayer({id: "zones-line", type: "line", source: "zones",
        paint: {"line-color": levelColour, "line-width": 1.5, "line-dasharray": [3, 2]}});
      map.addLayer({id: "coverage", type: "line", source: "coverage",
        paint: {"line-color": ["match", ["get", "what"], "asset", "#a5d6ff", "#6e7681"],
                "line-width": 1, "line-opacity": 0.7}});
      map.addLayer({id: "assets", type: "circle", source: "assets",
        paint: {"circle-radius": 4, "circle-color": "#a5d6ff"}});
      map.addLayer({id: "sensors", type: "circle", source: "sensors",
        paint: {"circle-radius": 4, "circle-color": "#6e7681", "circle-stroke-color": "#e6edf3",
                "circle-stroke-width": 1}});
      // The live picture (tracks, trails, selection ring, operators): WebGL, see picture.js.
      S.gl = new P.Layer(site.center);
      map.addLayer(S.gl);
      map.addLayer({id: "past", type: "symbol", source: "past", filter: ["has", "id"], layout: {
        "icon-image": ["get", "icon"], "icon-rotate": ["get", "hdg"], "icon-size": 0.6,
        "icon-allow-overlap": true, "icon-ignore-placement": true,
        "icon-rotation-alignment": "map"}, paint: {"icon-opacity": 0.85}});
      // A click selects the live track drawn under the pointer (read back from the GPU: what is
      // drawn on top is what is picked); only a live one: a symbol the map has not redrawn yet
      // may still stand for a track that is gone.
      map.on("click", async (e) => {
        if (S.past) return;
        const ids = await S.gl.pick(e.point.x, e.point.y, 6);
        const id = ids.find((x) => S.tracks.has(x));
        if (id !== undefined && !S.past) select(id);
      });
      map.on("click", "past", (e) => { if (S.past && e.features.length) select(e.features[0].properties.id); });
      map.on("mousemove", (e) => hover(e.point));
      for (const f of site.zones.features) zoneLabel(f);
      S.ready = true;
      S.dirty = S.panelsDirty = true;
    });
  }

  // The pointer over a track (within 12 px of its place): a hand. Worked out on the CPU, at
  // most ten times a second, so that moving the mouse asks for no redraw.
  let lastHover = 0;
  function hover(pt) {
    const now = performance.now();
    if (now - lastHover < 100 || S.past) return;
    lastHover = now;
    let over = false;
    for (const p of S.tracks.values()) {
      const q = map.project([p[1], p[2]]);
      if (Math.abs(q.x - pt.x) < 12 && Math.abs(q.y - pt.y) < 12) { over = true; break; }
    }
    map.getCanvas().style.cursor = over ? "pointer" : "";
  }

  async function addBasemap(session) {
    const protocol = new pmtiles.Protocol();
    maplibregl.addProtocol("pmtiles", protocol.tile);
    const url = new URL("/basemap.pmtiles", location.href).href;
    const file = new pmtiles.PMTiles(url);
    protocol.add(file);
    const header = await file.getHeader();
    const attribution = session.attribution || "";
    if (header.tileType === 1) {  // vector tiles: a plain style for the common layer names
      map.addSource("base", {type: "vector", url: "pmtiles://" + url, attribution});
      const add = (id, type, layer, paint) => map.addLayer(
        {id, type, source: "base", "source-layer": layer, paint});
      add("base-earth", "fill", "earth", {"fill-color": "#222a33"});
      add("base-landuse", "fill", "landuse", {"fill-color": "#24302a", "fill-opacity": 0.6});
      add("base-water", "fill", "water", {"fill-color": "#13263a"});
      add("base-buildings", "fill", "buildings", {"fill-color": "#2d333b"});
      add("base-roads", "line", "roads", {"line-color": "#3d444d", "line-width": 1});
    } else {
      map.addSource("base", {type: "raster", url: "pmtiles://" + url, tileSize: 256, attribution});
      map.addLayer({id: "base", type: "raster", source: "base"});
    }
  }

  function zoneLabel(f) {
    // At the zone's northernmost vertex: nested zones share a centre, not a top.
    const ring = f.geometry.coordinates[0];
    let top = ring[0];
    for (const p of ring) if (p[1] > top[1]) top = p;
    const e = el("div", "zlabel", `${f.properties.label} (${f.properties.level})`);
    new maplibregl.Marker({element: e, anchor: "bottom"}).setLngLat(top).addTo(map);
  }

  // ------------------------------------------------------------------ picture
  function rank(m) {
    return (m ? LEVELS.indexOf(m.thr) : 0) * 2 + (m && m.mal ? 1 : 0);
  }

  function applyPositions(list) {
    for (const p of list) {
      S.tracks.set(p[0], p);
      let s = S.series.get(p[0]);
      if (!s) { s = []; S.series.set(p[0], s); }
      if (!s.length || s[s.length - 1][0] !== S.t) s.push([S.t, p[3], p[5], p[6]]);
      if (s.length > CHART_POINTS) s.shift();
      let tr = S.trails.get(p[0]);
      if (!tr) { tr = []; S.trails.set(p[0], tr); }
      if (!tr.length || S.t - tr[tr.length - 1][0] >= 1) {
        tr.push([S.t, p[1], p[2], p[3], p[5]]);
        S.trailsDirty = true;
      }
      while (tr.length && tr[0][0] < S.t - S.trailS) tr.shift();
    }
  }

  function onInit(msg) {
    S.tracks.clear(); S.metas.clear(); S.trails.clear(); S.alerts.clear();
    S.t = msg.t; S.seq = msg.seq; S.trailS = msg.trail_s; S.history = msg.history;
    for (const m of msg.m) S.metas.set(m.id, m);
    S.series.clear();
    for (const [id, tr] of Object.entries(msg.trails)) {
      S.trails.set(Number(id), tr);
      S.series.set(Number(id), tr.map((q) => [q[0], q[3], q[4], 0]));  // the chart's past
    }
    applyPositions(msg.p);
    for (const a of msg.alerts) S.alerts.set(a.id, a);
    onHealth(msg.health);
    renderInbox();
    S.dirty = S.panelsDirty = S.trailsDirty = true;
  }

  function onFrame(msg) {
    S.t = msg.t; S.seq = msg.seq; S.frames++;
    for (const m of msg.m) S.metas.set(m.id, m);
    applyPositions(msg.p);
    for (const id of msg.gone) {
      S.tracks.delete(id); S.metas.delete(id); S.trails.delete(id); S.series.delete(id);
      S.trailsDirty = true;
    }
    if (S.history) S.history[1] = msg.t; else S.history = [msg.t, msg.t];
    // An unchanged picture (the daemon repeats it for late joiners) redraws nothing.
    if (msg.p.length || msg.m.length || msg.gone.length) S.dirty = true;
    S.panelsDirty = true;
  }

  function feature(id, lon, lat, m, hdg) {
    const cls = topClass(m), thr = m ? m.thr : "none", mal = !!(m && m.mal);
    return {type: "Feature", geometry: {type: "Point", coordinates: [lon, lat]},
            properties: {k: "t", id, icon: `${cls}-${LEVELS.includes(thr) ? thr : "none"}${mal ? "-mal" : ""}`,
                         hdg: (cls === "uav" || cls === "manned") && hdg !== null ? hdg : 0,
                         rank: rank(m)}};
  }

  // The map is redrawn when the picture changed; the side panels at most twice a second.
  let lastPanels = 0, lastTrails = 0;
  function render() {
    if (!S.ready) return;
    const now = performance.now();
    if (S.panelsDirty && now - lastPanels >= 500) {
      S.panelsDirty = false;
      lastPanels = now;
      renderList();
      renderDetail();
      renderSlider();
      $("clock").textContent = utc(S.t) + " UTC";
    }
    if (!S.dirty) return;
    S.dirty = false;
    const gl = S.gl;
    if (S.past) {  // looking back: the past source alone (onPast), the live picture empty
      if (!S.liveEmpty) {
        gl.beginIcons(); gl.endIcons();
        for (const w of ["trails", "lines"]) { gl.beginLines(w); gl.endLines(w); }
        gl.redraw();
        S.liveEmpty = true; S.trailEnds.clear(); S.trailsDirty = true;
      }
      renderLabels();
      return;
    }
    S.liveEmpty = false;
    // The long trails at most every TRAIL_MS (they gain a point a second); each update draws
    // every track's stretch from the end of its trail as last sent to the GPU to where it is.
    if (S.trailsDirty && (now - lastTrails >= TRAIL_MS || !S.trailEnds.size)) {
      S.trailsDirty = false;
      lastTrails = now;
      S.trailEnds.clear();
      gl.beginLines("trails");
      for (const [id, tr] of S.trails) {
        if (!S.tracks.has(id) || !tr.length) continue;
        const end = tr[tr.length - 1];
        S.trailEnds.set(id, [end[1], end[2]]);
        const m = S.metas.get(id);
        gl.polyline("trails", tr, P.lineColour(m ? m.thr : "none"), 1);
      }
      gl.endLines("trails");
    }
    gl.beginLines("lines");
    gl.beginIcons();
    const order = [];
    for (const [id, p] of S.tracks) {
      const m = S.metas.get(id), here = [p[1], p[2]];
      const end = S.trailEnds.get(id);
      if (end && (end[0] !== p[1] || end[1] !== p[2]))
        gl.polyline("lines", [end, here], P.lineColour(m ? m.thr : "none"));
      const op = m && m.idt && m.idt.op;
      if (op) {
        gl.polyline("lines", [[op[0], op[1]], here], P.OPERATOR_LINE);
        gl.operator(op[0], op[1]);
      }
      order.push(id);
    }
    gl.endLines("lines");
    if (S.selected !== null && S.tracks.has(S.selected)) {
      const p = S.tracks.get(S.selected);
      gl.ring(p[1], p[2], S.selected);
    }
    gl.endMarks();
    // Drawn in order, the worst threats last (on top).
    const ranks = new Map(order.map((id) => [id, rank(S.metas.get(id))]));
    order.sort((a, b) => ranks.get(a) - ranks.get(b) || a - b);
    for (const id of order) {
      const p = S.tracks.get(id), m = S.metas.get(id), cls = topClass(m);
      const thr = m && LEVELS.includes(m.thr) ? m.thr : "none";
      const hdg = (cls === "uav" || cls === "manned") && p[4] !== null ? p[4] : 0;
      gl.track(p[1], p[2], cls, thr, !!(m && m.mal), hdg, id);
    }
    gl.endIcons();
    gl.redraw();
    renderLabels();
  }

  function renderLabels() {
    const wanted = [...S.tracks.keys()].filter((id) => topClass(S.metas.get(id)) !== "clutter"
      && !S.past).sort((a, b) => rank(S.metas.get(b)) - rank(S.metas.get(a))).slice(0, S.maxLabels);
    if (S.selected !== null && S.tracks.has(S.selected) && !wanted.includes(S.selected))
      wanted.push(S.selected);
    const keep = new Set(wanted);
    for (const [id, mk] of S.labels) if (!keep.has(id)) { mk.remove(); S.labels.delete(id); }
    for (const id of wanted) {
      const p = S.tracks.get(id), m = S.metas.get(id);
      let mk = S.labels.get(id);
      if (!mk) {
        mk = new maplibregl.Marker({element: el("div", "label"), anchor: "left"});
        mk.setLngLat([p[1], p[2]]).addTo(map);
        S.labels.set(id, mk);
      }
      const e = mk.getElement();
      const text = `#${id} ${identText(m)}\n${Math.round(p[3])} m`;
      if (e.textContent !== text) e.textContent = text;
      e.classList.toggle("mal", !!(m && m.mal));
      mk.setLngLat([p[1], p[2]]);
    }
  }

  function sortedIds() {
    return [...S.tracks.keys()].sort((a, b) => rank(S.metas.get(b)) - rank(S.metas.get(a)) || a - b);
  }

  // A virtual list: every track has a row's height, only the rows in view (and OVERSCAN either
  // side) exist, and a row's text is written only when it changed.
  function renderList() {
    const ids = sortedIds();
    $("trackcount").textContent = `(${ids.length})`;
    const list = $("tracklist");
    const first = Math.max(0, Math.floor(list.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(ids.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + OVERSCAN);
    if (!S.listRows) {  // two spacers stand for the rows out of view
      S.listRows = [];
      S.listTop = el("li", "spacer"); S.listBottom = el("li", "spacer");
      list.replaceChildren(S.listTop, S.listBottom);
    }
    const rows = S.listRows;
    const above = first * ROW + "px", below = (ids.length - last) * ROW + "px";
    if (S.listTop.style.height !== above) S.listTop.style.height = above;
    if (S.listBottom.style.height !== below) S.listBottom.style.height = below;
    while (rows.length > last - first) rows.pop().remove();
    while (rows.length < last - first) {
      const li = el("li");
      for (let i = 0; i < 5; i++) li.append(el("span"));
      S.listBottom.before(li);
      rows.push(li);
      S.listKeys.length = Math.min(S.listKeys.length, rows.length - 1);
    }
    const keys = [];
    for (let i = first; i < last; i++) {
      const id = ids[i], p = S.tracks.get(id), m = S.metas.get(id), thr = m ? m.thr : "none";
      const cells = ["#" + id, topClass(m), thr, identText(m), Math.round(p[3]) + " m"];
      const cls = (m && m.mal ? "mal " : "") + (id === S.selected ? "sel" : "");
      const key = cells.join("\u0000") + "\u0000" + cls;
      keys.push(key);
      if (S.listKeys[i - first] === key) continue;
      const li = rows[i - first];
      li.className = cls; li.dataset.id = id;
      const spans = li.children;
      for (let j = 0; j < 5; j++) if (spans[j].textContent !== cells[j]) spans[j].textContent = cells[j];
      spans[2].className = "thr-" + thr;
    }
    S.listKeys = keys;
  }

  function select(id) {
    S.selected = Number(id);
    S.dirty = S.panelsDirty = true;
    lastPanels = 0;
    render();
  }

  function row(table, k, v) {
    const tr = el("tr");
    tr.append(el("td", "muted", k), typeof v === "string" || typeof v === "number" ? el("td", "", v) : v);
    table.append(tr);
  }

  function renderDetail() {
    const box = $("detail");
    const id = S.selected;
    if (id === null) return;
    const p = S.tracks.get(id), m = S.metas.get(id);
    if (!p || !m) { box.replaceChildren(el("p", "muted", `Track #${id} has ended.`)); return; }
    const t = el("table");
    row(t, "track", `#${id} (${m.st})`);
    const thr = el("td", "thr-" + m.thr, m.thr + (m.mal ? " · MALICIOUS" : ""));
    row(t, "threat", thr);
    const probs = el("td");
    for (const c of CLASSES) {
      const line = el("div");
      const bar = el("span", "bar");
      bar.style.width = Math.round((m.cls[c] || 0) * 120) + "px";
      line.append(el("span", "", `${c} ${(m.cls[c] || 0).toFixed(2)} `), bar);
      probs.append(line);
    }
    row(t, "class", probs);
    const reasons = el("ul", "reasons");
    for (const r of m.rs) reasons.append(el("li", "", r));
    const rtd = el("td"); rtd.append(reasons.childElementCount ? reasons : el("span", "muted", "none"));
    row(t, "reasons", rtd);
    if (m.idt) {
      const i = m.idt, parts = [];
      if (i.icao) parts.push("ICAO " + i.icao);
      if (i.callsign) parts.push("callsign " + i.callsign);
      if (i.rid) parts.push("Remote ID " + i.rid);
      row(t, "identity", parts.join(", ") || "–");
      if (i.al && i.al.length) row(t, "aliases", i.al.join(", "));
      if (i.op) row(t, "operator", `${i.op[1].toFixed(5)}, ${i.op[0].toFixed(5)}`);
    }
    row(t, "sources", m.src.join(", "));
    row(t, "speed", `${p[5]} m/s, heading ${p[4] === null ? "–" : p[4] + "°"}`);
    row(t, "height", `${p[3]} m (climb ${p[6]} m/s)`);
    row(t, "updated", `${Math.max(0, S.t - p[7]).toFixed(1)} s ago`);
    const canvas = el("canvas"); canvas.id = "chart"; canvas.width = 340; canvas.height = 90;
    box.replaceChildren(t, canvas);
    drawChart(canvas, S.series.get(id) || []);
  }

  function drawChart(c, s) {
    const g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    if (s.length < 2) return;
    const t0 = s[0][0], t1 = s[s.length - 1][0] || t0 + 1;
    const line = (k, colour) => {
      const vals = s.map((q) => q[k]);
      const lo = Math.min(...vals), hi = Math.max(...vals), span = hi - lo || 1;
      g.strokeStyle = colour; g.beginPath();
      s.forEach((q, i) => {
        const x = 4 + (c.width - 8) * (q[0] - t0) / ((t1 - t0) || 1);
        const y = c.height - 12 - (c.height - 24) * (q[k] - lo) / span;
        if (i) g.lineTo(x, y); else g.moveTo(x, y);
      });
      g.stroke();
      return [lo, hi];
    };
    const h = line(1, "#58a6ff"), v = line(2, "#f0883e");
    g.fillStyle = "#8b949e"; g.font = "10px system-ui";
    g.fillText(`height ${h[0].toFixed(0)}–${h[1].toFixed(0)} m`, 4, 10);
    g.fillText(`speed ${v[0].toFixed(1)}–${v[1].toFixed(1)} m/s`, 170, 10);
  }

  // ------------------------------------------------------------------ look back
  function renderSlider() {
    const s = $("slider");
    if (!S.history || S.past) return;
    s.min = Math.floor(S.history[0]); s.max = Math.ceil(S.history[1]); s.value = s.max;
  }

  function onPast(msg) {
    if (!S.past) return;
    S.past.t = msg.t;
    const feats = msg.tracks.map((q) => feature(q[0], q[1], q[2],
      {thr: LEVELS[q[4]], mal: !!q[6], cls: {[CLASSES[q[5]]]: 1}}, null));
    map.getSource("past").setData({type: "FeatureCollection", features: feats});
    $("pastlabel").textContent = "looking back: " + utc(msg.t);
  }

  function goLive() {
    S.past = null;
    $("lookback").classList.remove("past");
    $("pastlabel").textContent = "live";
    if (map) map.getSource("past").setData(empty());
    S.dirty = S.panelsDirty = true; lastPanels = 0; render();
  }

  // ------------------------------------------------------------------ socket
  let backoff = 500;
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    S.ws = ws;
    ws.onopen = () => { backoff = 500; $("feed").textContent = "live"; $("feed").className = "ok"; };
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === "init") onInit(msg);
      else if (msg.type === "frame") onFrame(msg);
      else if (msg.type === "alert") onAlert(msg.alert, true);
      else if (msg.type === "health") onHealth(msg);
      else if (msg.type === "past") onPast(msg);
      else if (msg.type === "feed") {
        $("feed").textContent = msg.stale ? `daemon silent ${msg.silent_s} s` : "live";
        $("feed").className = msg.stale ? "stale" : "ok";
      }
    };
    ws.onclose = (ev) => {
      $("feed").textContent = "disconnected"; $("feed").className = "stale";
      if (ev.code === 4001) { location.assign("/login"); return; }
      // A refused upgrade (no session) closes with 1006: ask the API whether we are logged in.
      fetch("/api/session", {credentials: "same-origin"}).then((r) => {
        if (r.status === 401) location.assign("/login");
        else setTimeout(connect, backoff = Math.min(backoff * 2, 10000));
      }).catch(() => setTimeout(connect, backoff = Math.min(backoff * 2, 10000)));
    };
  }

  // ------------------------------------------------------------------ start
  async function start() {
    const r = await fetch("/api/session", {credentials: "same-origin"});
    if (r.status === 401) { location.assign("/login"); return; }
    S.me = await r.json();
    $("user").textContent = `${S.me.user} (${S.me.role})`;
    $("mute").checked = localStorage.getItem("cuas-mute") === "1";
    $("mute").addEventListener("change", () => localStorage.setItem("cuas-mute", $("mute").checked ? "1" : "0"));
    $("logout").addEventListener("click", async () => {
      await api("/api/logout", "POST", {}); location.assign("/login");
    });
    $("tracklist").addEventListener("click", (e) => {
      const li = e.target.closest("li"); if (li && li.dataset.id) select(li.dataset.id);
    });
    // Scrolling the list shows other rows: draw them in the next frame, not at the next update.
    $("tracklist").addEventListener("scroll", () => { S.panelsDirty = true; lastPanels = 0; },
                                    {passive: true});
    $("slider").addEventListener("input", () => {
      const s = $("slider");
      if (Number(s.value) >= Number(s.max)) { goLive(); return; }
      S.past = {t: Number(s.value)};
      $("lookback").classList.add("past");
      S.dirty = S.panelsDirty = true; render();
      if (S.ws && S.ws.readyState === 1) S.ws.send(JSON.stringify({type: "history", t: Number(s.value)}));
    });
    $("live").addEventListener("click", goLive);
    if (S.me.role === "admin") {
      $("admin").hidden = false; loadUsers();
      $("useradd").addEventListener("submit", async (e) => {
        e.preventDefault();
        const r2 = await api("/api/users", "POST", {name: $("newname").value, role: $("newrole").value,
                                                    password: $("newpass").value});
        if (!r2.ok) alert((await r2.json()).error); else { $("newpass").value = ""; loadUsers(); }
      });
    }
    const site = await (await api("/api/site")).json();
    $("site").textContent = "cuas · " + site.name;
    initMap(site, S.me);
    connect();
    const loop = () => { render(); if (S.inboxPending) renderInbox(); requestAnimationFrame(loop); };
    requestAnimationFrame(loop);
  }

  // What the tests and the benchmark read (the page's own state, not a second rendering).
  window.cuas = {state: S, view: () => map && {center: map.getCenter().toArray(), zoom: map.getZoom(),
    bearing: map.getBearing(), pitch: map.getPitch(), width: map.getCanvas().clientWidth,
    height: map.getCanvas().clientHeight},
    // The live tracks drawn within r px of (x, y), and where each of some tracks is drawn:
    // both read back from the GPU (promises).
    renderedAt: (x, y, r) => S.gl.pick(x, y, r), drawnAt: (ids, ring) => S.gl.drawnAt(ids, ring),
    select};
  document.addEventListener("DOMContentLoaded", start);
})();
