// The console's side panels that stand apart from the picture: the alert inbox (with its
// flash and tone), the health panel and the admin's user list. Every text from the bus goes
// into the page with textContent, never as markup.
"use strict";
window.cuasPanels = ({S, $, el, utc, api, select}) => {
  // ------------------------------------------------------------------ alerts
  let audio = null;
  function beep() {
    if ($("mute").checked) return;
    try {
      audio = audio || new AudioContext();
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880; g.gain.value = 0.1;
      o.connect(g); g.connect(audio.destination);
      o.start(); o.stop(audio.currentTime + 0.3);
    } catch (e) { /* no audio device: the flash is enough */ }
  }

  function onAlert(a, fresh) {
    const known = S.alerts.has(a.id);
    S.alerts.set(a.id, a);
    renderInbox();
    if (fresh && !known && (a.mal || a.threat === "critical")) {
      const box = $("alerts");
      box.classList.remove("flash"); void box.offsetWidth; box.classList.add("flash");
      beep();
    }
  }

  function renderInbox() {
    const items = [...S.alerts.values()].sort((a, b) => b.t - a.t);
    const open = items.filter((a) => a.state === "open").length;
    $("alertcount").textContent = `(${open} open)`;
    const canAck = S.me && (S.me.role === "operator" || S.me.role === "admin");
    const lis = items.slice(0, 200).map((a) => {
      const li = el("li", (a.state === "open" ? "open " : "") + (a.mal ? "mal" : ""));
      li.dataset.alert = a.id;
      const head = el("div");
      head.append(el("span", "", utc(a.t) + " "), el("b", "", `#${a.track_id} `),
                  el("span", "thr-" + a.threat, `${a.previous} → ${a.threat}`));
      if (a.zone) head.append(el("span", "muted", " in " + a.zone));
      head.addEventListener("click", () => select(a.track_id));
      const reasons = el("ul");
      for (const r of a.reasons) reasons.append(el("li", "", r));
      li.append(head, reasons);
      if (a.state !== "open") {
        li.append(el("div", "settled", `${a.state} by ${a.by}${a.note ? ": " + a.note : ""}`));
      } else if (canAck) {
        const acts = el("div", "acts");
        const note = el("input"); note.placeholder = "note"; note.maxLength = 1000;
        note.className = "note";
        const ack = el("button", "ack", "Acknowledge"), dis = el("button", "dismiss", "Dismiss");
        ack.type = dis.type = "button";
        ack.addEventListener("click", () => settle(a.id, "acknowledged", note.value));
        dis.addEventListener("click", () => settle(a.id, "dismissed", note.value));
        acts.append(note, ack, dis);
        li.append(acts);
      }
      return li;
    });
    // Keep a note being typed: rebuild only when nobody is typing in the inbox.
    if (document.activeElement && document.activeElement.classList.contains("note")) {
      S.inboxPending = true; return;
    }
    S.inboxPending = false;
    $("inbox").replaceChildren(...lis);
  }

  async function settle(id, action, note) {
    const r = await api("/api/ack", "POST", {alert_id: id, action, note});
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      alert(body.error || "refused");
    }
  }

  // ------------------------------------------------------------------ health
  function onHealth(h) {
    const box = $("health");
    const t = el("table");
    const d = h.daemon || {};
    const tr = el("tr");
    tr.append(el("td", "", d.src || "daemon"), el("td", "st-" + (d.state || "down"), d.state || "unknown"),
              el("td", "muted", d.uptime_s !== undefined ? `up ${Math.round(d.uptime_s)} s` : ""));
    t.append(tr);
    for (const s of h.sensors) {
      const r = el("tr");
      r.append(el("td", "", s.id), el("td", "st-" + s.state, s.state),
               el("td", "muted", s.age_s === null ? "never seen" :
                  `${s.age_s} s ago, ${s.rate_hz} /s`));
      t.append(r);
    }
    const counters = el("div", "muted");
    counters.textContent = Object.entries(d.counters || {}).map(([k, v]) => `${k} ${v}`).join(" · ");
    box.replaceChildren(t, counters);
  }

  // ------------------------------------------------------------------ admin
  async function loadUsers() {
    const r = await api("/api/users");
    if (!r.ok) return;
    const body = await r.json();
    $("users").replaceChildren(...body.users.map((u) => {
      const li = el("li", "", `${u.name} (${u.role}) `);
      const rm = el("button", "", "remove"); rm.type = "button";
      rm.addEventListener("click", async () => {
        await api("/api/users/" + encodeURIComponent(u.name), "DELETE"); loadUsers();
      });
      li.append(rm);
      return li;
    }));
  }

  return {onAlert, renderInbox, onHealth, loadUsers};
};
