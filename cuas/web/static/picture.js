// The live picture drawn in WebGL: a MapLibre custom layer (CustomLayerInterface) for the
// tracks (symbols by class, colour by threat, turned to their heading), the selection ring,
// Remote ID operators and their lines to the drone, and the trails.
//
// Why not GeoJSON sources: each update of a GeoJSON source goes through MapLibre's worker
// (GeoJSON -> vector tiles -> buckets) and back, and its trails become thousands of
// antialiased line triangles. On a software-rendered browser (no GPU: SwiftShader) drawing
// those trails cost most of every map redraw. Here every picture update rewrites one vertex
// buffer in place (bufferSubData) on the main thread, no worker, no collision, and trails are
// one-pixel GL lines. Positions are kept relative to an origin near the site (Web Mercator
// units in float64 in JavaScript, float32 offsets on the GPU) so they stay exact to
// millimetres at any zoom.
"use strict";
window.cuasPicture = (() => {
  const CLASSES = ["uav", "bird", "manned", "clutter"];
  const LEVELS = ["none", "low", "medium", "high", "critical"];
  const COLOURS = {none: "#8b949e", low: "#3fb950", medium: "#d29922", high: "#f0883e",
                   critical: "#f85149"};
  const OPERATOR = "#ff3df5", RING = "#58a6ff";
  // Atlas cells: CELL px each, COLS a row: the 40 track symbols (class x level x malicious),
  // then the selection ring and the operator's mark.
  const CELL = 40, COLS = 8, RING_CELL = 40, OP_CELL = 41, CELLS = 42;
  const ROWS = Math.ceil(CELLS / COLS);
  // Shown sizes in CSS px (the symbols at 24 px, as before on the MapLibre symbol layer).
  const TRACK_PX = 24, RING_PX = 30, OP_PX = 16;
  const ICON_FLOATS = 8, LINE_FLOATS = 3;

  /** A track symbol drawn on a CELL-px canvas: its pixels (ImageData). */
  function drawIcon(cls, level, mal) {
    const n = CELL, c = document.createElement("canvas");
    c.width = c.height = n;
    const g = c.getContext("2d");
    g.translate(n / 2, n / 2);
    g.fillStyle = COLOURS[level];
    g.strokeStyle = "#0d1117";
    g.lineWidth = 2;
    g.beginPath();
    if (cls === "uav") {        // a diamond with a nose: drones point where they go
      g.moveTo(0, -14); g.lineTo(10, 4); g.lineTo(0, 12); g.lineTo(-10, 4);
    } else if (cls === "manned") {  // an aircraft's wedge
      g.moveTo(0, -15); g.lineTo(11, 12); g.lineTo(0, 6); g.lineTo(-11, 12);
    } else if (cls === "bird") {    // a chevron
      g.moveTo(0, -6); g.lineTo(13, 6); g.lineTo(7, 8); g.lineTo(0, 2); g.lineTo(-7, 8);
      g.lineTo(-13, 6);
    } else {                        // clutter: a small square
      g.rect(-5, -5, 10, 10);
    }
    g.closePath(); g.fill(); g.stroke();
    if (mal) { g.strokeStyle = OPERATOR; g.lineWidth = 3; g.beginPath();
      g.arc(0, 0, 17, 0, 2 * Math.PI); g.stroke(); }
    return g.getImageData(0, 0, n, n);
  }

  /** The atlas cell of a track symbol. */
  function iconCell(cls, level, mal) {
    const c = Math.max(0, CLASSES.indexOf(cls)), l = Math.max(0, LEVELS.indexOf(level));
    return (c * LEVELS.length + l) * 2 + (mal ? 1 : 0);
  }

  function atlas() {
    const c = document.createElement("canvas");
    c.width = COLS * CELL; c.height = ROWS * CELL;
    const g = c.getContext("2d");
    for (const cls of CLASSES) for (const level of LEVELS) for (const mal of [false, true]) {
      const i = iconCell(cls, level, mal);
      g.putImageData(drawIcon(cls, level, mal), (i % COLS) * CELL, Math.floor(i / COLS) * CELL);
    }
    const at = (i, draw) => {
      g.save(); g.translate((i % COLS) * CELL + CELL / 2, Math.floor(i / COLS) * CELL + CELL / 2);
      draw(); g.restore();
    };
    // Drawn at CELL px, shown at RING_PX / OP_PX: a 13 px ring 2 px wide, a 5 px dot.
    at(RING_CELL, () => { g.strokeStyle = RING; g.lineWidth = 2.7; g.beginPath();
      g.arc(0, 0, 17.3, 0, 2 * Math.PI); g.stroke(); });
    at(OP_CELL, () => { g.fillStyle = "#0d1117"; g.strokeStyle = OPERATOR; g.lineWidth = 5;
      g.beginPath(); g.arc(0, 0, 12.5, 0, 2 * Math.PI); g.fill(); g.stroke(); });
    return c;
  }

  const ICON_VS = `
    attribute vec2 a_pos;     // Web Mercator units from the layer's origin
    attribute vec2 a_corner;  // the quad's corner, -1..1, y up
    attribute vec4 a_more;    // atlas cell, angle (rad clockwise), size (CSS px), track id
    uniform mat4 u_matrix;    // the map's matrix with the origin folded in
    uniform vec2 u_px;        // clip units per CSS px (x, y)
    uniform float u_bearing;  // the map's bearing (rad)
    uniform float u_only;     // draw only this track id (-1: all)
    varying vec2 v_uv;
    varying vec3 v_pick;
    void main() {
      vec4 c = u_matrix * vec4(a_pos, 0.0, 1.0);
      float a = a_more.y - u_bearing, s = sin(a), k = cos(a);
      vec2 r = vec2(a_corner.x * k + a_corner.y * s, -a_corner.x * s + a_corner.y * k);
      gl_Position = c + vec4(r * 0.5 * a_more.z * u_px * c.w, 0.0, 0.0);
      if (u_only >= 0.0 && abs(a_more.w - u_only) > 0.5) gl_Position = vec4(2.0, 2.0, 2.0, 1.0);
      float cell = a_more.x;
      vec2 at = vec2(mod(cell, ${COLS}.0), floor(cell / ${COLS}.0));
      v_uv = (at + vec2(a_corner.x + 1.0, 1.0 - a_corner.y) * 0.5) / vec2(${COLS}.0, ${ROWS}.0);
      float id = a_more.w;
      v_pick = vec3(mod(id, 256.0), mod(floor(id / 256.0), 256.0), floor(id / 65536.0)) / 255.0;
    }`;
  const ICON_FS = `
    precision mediump float;
    uniform sampler2D u_atlas;
    uniform float u_mode;     // 0 colour, 1 pick (track id where the symbol is), 2 whole quad
    varying vec2 v_uv;
    varying vec3 v_pick;
    void main() {
      if (u_mode > 1.5) { gl_FragColor = vec4(1.0); return; }
      vec4 c = texture2D(u_atlas, v_uv);
      if (u_mode > 0.5) {
        if (c.a < 0.3) discard;
        gl_FragColor = vec4(v_pick, 1.0);
      } else {
        gl_FragColor = c;
      }
    }`;
  const LINE_VS = `
    attribute vec3 a_line;    // x, y from the origin; colour index
    uniform mat4 u_matrix;
    uniform vec4 u_palette[6];
    varying vec4 v_colour;
    void main() {
      gl_Position = u_matrix * vec4(a_line.xy, 0.0, 1.0);
      vec4 c = u_palette[int(a_line.z + 0.5)];
      v_colour = vec4(c.rgb * c.a, c.a);  // premultiplied
    }`;
  const LINE_FS = `
    precision mediump float;
    varying vec4 v_colour;
    void main() { gl_FragColor = v_colour; }`;

  function rgba(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return [(n >> 16 & 255) / 255, (n >> 8 & 255) / 255, (n & 255) / 255, alpha];
  }
  // Line colours: the five threat levels (trails, 0.6 opaque as before), then the operator's
  // line to its drone.
  const PALETTE = [...LEVELS.map((l) => rgba(COLOURS[l], 0.6)), rgba(OPERATOR, 1.0)].flat();

  const mercX = (lon) => (lon + 180) / 360;
  const mercY = (lat) => {
    const s = Math.sin(lat * Math.PI / 180);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  };

  /** A growable float32 vertex array. */
  class Floats {
    constructor(n) { this.a = new Float32Array(n); this.n = 0; }
    reserve(more) {
      if (this.n + more <= this.a.length) return;
      const b = new Float32Array(Math.max(this.a.length * 2, this.n + more));
      b.set(this.a.subarray(0, this.n)); this.a = b;
    }
  }

  function compile(gl, vs, fs) {
    const p = gl.createProgram();
    for (const [type, src] of [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]]) {
      const s = gl.createShader(type);
      gl.shaderSource(s, src); gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
      gl.attachShader(p, s);
    }
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
    const loc = {};
    const na = gl.getProgramParameter(p, gl.ACTIVE_ATTRIBUTES);
    for (let i = 0; i < na; i++) { const a = gl.getActiveAttrib(p, i); loc[a.name] = gl.getAttribLocation(p, a.name); }
    const nu = gl.getProgramParameter(p, gl.ACTIVE_UNIFORMS);
    for (let i = 0; i < nu; i++) {
      const u = gl.getActiveUniform(p, i), name = u.name.replace(/\[0\]$/, "");
      loc[name] = gl.getUniformLocation(p, name);
    }
    return {p, loc};
  }

  /** A buffer on the GPU that grows when it must and is otherwise rewritten in place. */
  class GpuBuffer {
    constructor(gl) { this.gl = gl; this.buf = gl.createBuffer(); this.size = 0; this.count = 0; }
    upload(floats, stride) {
      const gl = this.gl, bytes = floats.n * 4;
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buf);
      if (bytes > this.size) {
        this.size = Math.max(bytes, this.size * 2, 4096);
        gl.bufferData(gl.ARRAY_BUFFER, this.size, gl.DYNAMIC_DRAW);
      }
      if (bytes) gl.bufferSubData(gl.ARRAY_BUFFER, 0, floats.a.subarray(0, floats.n));
      this.count = floats.n / stride;
    }
  }

  const CORNERS = [[-1, -1], [1, -1], [1, 1], [-1, -1], [1, 1], [-1, 1]];

  class Layer {
    constructor(origin) {
      this.id = "picture"; this.type = "custom"; this.renderingMode = "2d";
      this.ox = mercX(origin[0]); this.oy = mercY(origin[1]);
      this.icons = new Floats(6 * ICON_FLOATS * 1024);
      this.trails = new Floats(2 * LINE_FLOATS * 1024);
      this.lines = new Floats(2 * LINE_FLOATS * 1024);
      this.fresh = {icons: false, trails: false, lines: false};
      this.firstTrack = 0;  // vertices before the tracks' (ring, operators): not pickable
      this.requests = [];
      this.map = null;
    }

    // ------------------------------------------------------------ filling (JavaScript side)
    /** Start a new set of symbols (tracks, ring, operators). */
    beginIcons() { this.icons.n = 0; this.firstTrack = 0; }

    /** A symbol at ``lon, lat`` (degrees): atlas ``cell``, ``hdg`` degrees clockwise from
     * north, ``size`` CSS px, ``id`` the track's (0: not a track). */
    icon(lon, lat, cell, hdg, size, id) {
      const f = this.icons;
      f.reserve(6 * ICON_FLOATS);
      const x = mercX(lon) - this.ox, y = mercY(lat) - this.oy, a = hdg * Math.PI / 180;
      const arr = f.a;
      for (const [cx, cy] of CORNERS) {
        const i = f.n;
        arr[i] = x; arr[i + 1] = y; arr[i + 2] = cx; arr[i + 3] = cy;
        arr[i + 4] = cell; arr[i + 5] = a; arr[i + 6] = size; arr[i + 7] = id;
        f.n += ICON_FLOATS;
      }
    }

    /** The symbols added so far are marks, not tracks (they are drawn under the tracks and
     * never picked). */
    endMarks() { this.firstTrack = this.icons.n / ICON_FLOATS; }

    track(lon, lat, cls, level, mal, hdg, id) {
      this.icon(lon, lat, iconCell(cls, level, mal), hdg, TRACK_PX, id);
    }
    /** The selection ring round track ``id``. */
    ring(lon, lat, id) { this.icon(lon, lat, RING_CELL, 0, RING_PX, id); }
    operator(lon, lat) { this.icon(lon, lat, OP_CELL, 0, OP_PX, 0); }
    endIcons() { this.fresh.icons = true; }

    /** Start the trails ("trails", sent every few seconds) or the live lines ("lines": each
     * trail's last stretch and the operators' lines, with every update). */
    beginLines(which) { this[which].n = 0; }

    /** A polyline through ``points`` in palette colour ``colour``: each point an array with
     * its longitude and latitude (degrees) at ``at`` and ``at + 1`` (0 unless told, so that a
     * trail's own [t, lon, lat, ...] points need no copy). */
    polyline(which, points, colour, at = 0) {
      const f = this[which];
      if (points.length < 2) return;
      f.reserve(2 * LINE_FLOATS * (points.length - 1));
      const arr = f.a;
      let px = mercX(points[0][at]) - this.ox, py = mercY(points[0][at + 1]) - this.oy;
      for (let k = 1; k < points.length; k++) {
        const q = points[k], x = mercX(q[at]) - this.ox, y = mercY(q[at + 1]) - this.oy, i = f.n;
        arr[i] = px; arr[i + 1] = py; arr[i + 2] = colour;
        arr[i + 3] = x; arr[i + 4] = y; arr[i + 5] = colour;
        f.n += 2 * LINE_FLOATS;
        px = x; py = y;
      }
    }
    endLines(which) { this.fresh[which] = true; }

    /** Ask the map for one redraw (the new data goes to the GPU then). */
    redraw() { if (this.map) this.map.triggerRepaint(); }

    // ------------------------------------------------------------ MapLibre's side
    onAdd(map, gl) {
      this.map = map; this.gl = gl;
      // The canvas's size in CSS px, read when the map is sized, not while it draws (reading
      // it in the middle of a frame could force the page's layout).
      this.onResize = () => {
        const c = map.getCanvas();
        this.css = [c.clientWidth || 1, c.clientHeight || 1];
      };
      this.onResize();
      map.on("resize", this.onResize);
      this.vao = gl.bindVertexArray ? null : gl.getExtension("OES_vertex_array_object");
      this.iconProg = compile(gl, ICON_VS, ICON_FS);
      this.lineProg = compile(gl, LINE_VS, LINE_FS);
      this.iconBuf = new GpuBuffer(gl);
      this.trailBuf = new GpuBuffer(gl);
      this.lineBuf = new GpuBuffer(gl);
      this.tex = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, this.tex);
      gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, true);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, atlas());
      gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
      for (const [k, v] of [[gl.TEXTURE_MIN_FILTER, gl.LINEAR], [gl.TEXTURE_MAG_FILTER, gl.LINEAR],
                            [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE], [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE]])
        gl.texParameteri(gl.TEXTURE_2D, k, v);
    }

    onRemove() {
      const gl = this.gl;
      for (const b of [this.iconBuf, this.trailBuf, this.lineBuf]) gl.deleteBuffer(b.buf);
      gl.deleteTexture(this.tex);
      this.map.off("resize", this.onResize);
      gl.deleteProgram(this.iconProg.p); gl.deleteProgram(this.lineProg.p);
      if (this.fbo) { gl.deleteFramebuffer(this.fbo); gl.deleteTexture(this.fboTex); }
      this.map = null;
    }

    render(gl, matrix) {
      // MapLibre's own vertex array objects must not take our attribute pointers.
      if (gl.bindVertexArray) gl.bindVertexArray(null);
      else if (this.vao) this.vao.bindVertexArrayOES(null);
      if (this.fresh.icons) { this.iconBuf.upload(this.icons, ICON_FLOATS); this.fresh.icons = false; }
      if (this.fresh.trails) { this.trailBuf.upload(this.trails, LINE_FLOATS); this.fresh.trails = false; }
      if (this.fresh.lines) { this.lineBuf.upload(this.lines, LINE_FLOATS); this.fresh.lines = false; }
      // The map's matrix times a translation to the origin, in float64 before it goes to float32.
      const m = Float32Array.from(matrix);
      for (let r = 0; r < 4; r++) m[12 + r] = matrix[r] * this.ox + matrix[4 + r] * this.oy + matrix[12 + r];
      this.matrix = m;
      gl.disable(gl.DEPTH_TEST); gl.disable(gl.STENCIL_TEST); gl.disable(gl.CULL_FACE);
      gl.disable(gl.SCISSOR_TEST);
      gl.enable(gl.BLEND); gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
      this.drawLines(gl, this.trailBuf);
      this.drawLines(gl, this.lineBuf);
      this.drawIcons(gl, 0, 0, this.iconBuf.count, -1);
      if (this.requests.length) this.answer(gl);
    }

    drawLines(gl, buf) {
      if (!buf.count) return;
      const {p, loc} = this.lineProg;
      gl.useProgram(p);
      gl.uniformMatrix4fv(loc.u_matrix, false, this.matrix);
      gl.uniform4fv(loc.u_palette, PALETTE);
      gl.bindBuffer(gl.ARRAY_BUFFER, buf.buf);
      gl.enableVertexAttribArray(loc.a_line);
      gl.vertexAttribPointer(loc.a_line, 3, gl.FLOAT, false, LINE_FLOATS * 4, 0);
      gl.drawArrays(gl.LINES, 0, buf.count);
      gl.disableVertexAttribArray(loc.a_line);
    }

    drawIcons(gl, mode, first, count, only) {
      if (count <= 0) return;
      const {p, loc} = this.iconProg;
      gl.useProgram(p);
      gl.uniformMatrix4fv(loc.u_matrix, false, this.matrix);
      gl.uniform2f(loc.u_px, 2 / this.css[0], 2 / this.css[1]);
      gl.uniform1f(loc.u_bearing, this.map.getBearing() * Math.PI / 180);
      gl.uniform1f(loc.u_only, only);
      gl.uniform1f(loc.u_mode, mode);
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, this.tex);
      gl.uniform1i(loc.u_atlas, 0);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.iconBuf.buf);
      const stride = ICON_FLOATS * 4;
      for (const [name, size, offset] of [["a_pos", 2, 0], ["a_corner", 2, 8], ["a_more", 4, 16]]) {
        gl.enableVertexAttribArray(loc[name]);
        gl.vertexAttribPointer(loc[name], size, gl.FLOAT, false, stride, offset);
      }
      gl.drawArrays(gl.TRIANGLES, first, count);
      for (const name of ["a_pos", "a_corner", "a_more"]) gl.disableVertexAttribArray(loc[name]);
    }

    // ------------------------------------------------------------ picking
    // What is drawn where, read back from the GPU: the same vertex shader and buffer as the
    // picture, into an off-screen framebuffer, at the next redraw.

    /** The track ids drawn within ``r`` CSS px of (x, y) on the map's canvas, nearest first
     * (where symbols overlap, the one on top). */
    pick(x, y, r) {
      return new Promise((resolve) => { this.requests.push({kind: "pick", x, y, r, resolve}); this.redraw(); });
    }

    /** For each of ``ids``: where the quad of its symbol (``marks`` false) or of its
     * selection ring (``marks`` true) is drawn: [x, y, n], its centre in CSS px from the
     * canvas's top left and the device pixels it covers; null if it is not drawn in view. */
    drawnAt(ids, marks) {
      return new Promise((resolve) => {
        this.requests.push({kind: "where", ids, marks: !!marks, resolve}); this.redraw();
      });
    }

    answer(gl) {
      const w = gl.drawingBufferWidth, h = gl.drawingBufferHeight, ratio = w / this.css[0];
      const before = gl.getParameter(gl.FRAMEBUFFER_BINDING), viewport = gl.getParameter(gl.VIEWPORT);
      if (!this.fbo || this.fboSize[0] !== w || this.fboSize[1] !== h) {
        if (this.fbo) { gl.deleteFramebuffer(this.fbo); gl.deleteTexture(this.fboTex); }
        // A byte per channel (WebGL 1 and 2 alike): a track id in 24 bits of colour.
        this.fbo = gl.createFramebuffer(); this.fboTex = gl.createTexture();
        gl.bindTexture(gl.TEXTURE_2D, this.fboTex);
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, w, h, 0, gl.RGBA, gl.UNSIGNED_BYTE, null);
        gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
        gl.bindFramebuffer(gl.FRAMEBUFFER, this.fbo);
        gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, this.fboTex, 0);
        this.fboSize = [w, h];
      }
      gl.bindFramebuffer(gl.FRAMEBUFFER, this.fbo);
      gl.viewport(0, 0, w, h);
      gl.disable(gl.BLEND);
      const tracks = this.iconBuf.count - this.firstTrack;
      const clear = () => { gl.clearColor(0, 0, 0, 0); gl.clear(gl.COLOR_BUFFER_BIT); };
      for (const q of this.requests.splice(0)) {
        if (q.kind === "pick") {
          clear();
          this.drawIcons(gl, 1, this.firstTrack, tracks, -1);
          const r = Math.ceil(q.r * ratio), cx = Math.round(q.x * ratio), cy = Math.round(h - q.y * ratio);
          const x0 = Math.max(0, cx - r), y0 = Math.max(0, cy - r);
          const bw = Math.max(0, Math.min(w, cx + r + 1) - x0), bh = Math.max(0, Math.min(h, cy + r + 1) - y0);
          const px = new Uint8Array(4 * bw * bh), found = new Map();
          if (bw && bh) gl.readPixels(x0, y0, bw, bh, gl.RGBA, gl.UNSIGNED_BYTE, px);
          for (let j = 0; j < bh; j++) for (let i = 0; i < bw; i++) {
            const k = 4 * (j * bw + i);
            if (!px[k + 3]) continue;
            const id = px[k] + 256 * px[k + 1] + 65536 * px[k + 2];
            const d = Math.hypot(x0 + i - cx, y0 + j - cy);
            if (!found.has(id) || d < found.get(id)) found.set(id, d);
          }
          q.resolve([...found.entries()].sort((a, b) => a[1] - b[1]).map((e) => e[0]));
        } else {
          const out = {}, px = new Uint8Array(4 * w * h);
          for (const id of q.ids) {
            clear();
            if (q.marks) this.drawIcons(gl, 2, 0, this.firstTrack, id);
            else this.drawIcons(gl, 2, this.firstTrack, tracks, id);
            gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
            let n = 0, sx = 0, sy = 0;
            for (let k = 0; k < w * h; k++) if (px[4 * k + 3]) { n++; sx += k % w; sy += Math.floor(k / w); }
            out[id] = n ? [(sx / n + 0.5) / ratio, (h - sy / n - 0.5) / ratio, n] : null;
          }
          q.resolve(out);
        }
      }
      gl.bindFramebuffer(gl.FRAMEBUFFER, before);
      gl.viewport(viewport[0], viewport[1], viewport[2], viewport[3]);
      gl.enable(gl.BLEND);
    }
  }

  return {CLASSES, LEVELS, COLOURS, drawIcon, Layer, lineColour: (level) => Math.max(0, LEVELS.indexOf(level)),
          OPERATOR_LINE: 5};
})();
