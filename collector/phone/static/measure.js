// lomsong phone page: HTTP speed test against the collector (parallel streams, like i-Speed and
// LibreSpeed), latency and jitter idle and under load, early stop once the verdict against the
// target is clear, a data cap, walk mode, and an IndexedDB outbox for results sent later.
"use strict";
(() => {
  const app = document.getElementById("app");
  if (!app) return;
  const $ = (id) => document.getElementById(id);
  const msg = {};
  for (const dd of document.querySelectorAll("#msgs dd")) msg[dd.dataset.k] = dd.textContent;
  const cfg = {
    token: app.dataset.token, site: app.dataset.site || null, lang: app.dataset.lang,
    target: Number(app.dataset.targetMbps), payloadMax: Number(app.dataset.payloadMax),
  };
  const METHOD = {
    name: "http-parallel", version: 1, streams: 4, max_s: 10, warmup_s: 1.5, sample_s: 0.25,
    min_s: 4, down_request_bytes: Math.min(8 << 20, cfg.payloadMax),
    up_request_bytes: Math.min(1 << 20, cfg.payloadMax), idle_pings: 10,
    walk_interval_s: Number(app.dataset.walkIntervalS),
  };
  // Payloads and pings go to the test server when the collector names one; results never do.
  const testServer = app.dataset.testServer || "";
  const api = (path, extra = "") => `${path === "results" ? "" : testServer}/do/api/${path}`
    + `?t=${encodeURIComponent(cfg.token)}${extra}`;
  const fmt = (v, d = 1) => v.toLocaleString(cfg.lang === "vi" ? "vi-VN" : "en-GB",
    { minimumFractionDigits: d, maximumFractionDigits: d });

  const randomHex = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  const uuid4 = () => {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  let device = localStorage.getItem("lomsong-device");
  if (!/^[0-9a-f]{16}$/.test(device || "")) {
    device = randomHex(8);
    localStorage.setItem("lomsong-device", device);
  }

  // --- outbox (IndexedDB): every record waits here until the collector has it ---
  const dbReady = new Promise((resolve, reject) => {
    const req = indexedDB.open("lomsong-phone", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("outbox", { keyPath: "id" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const store = async (mode, fn) => {
    const db = await dbReady;
    return new Promise((resolve, reject) => {
      const tx = db.transaction("outbox", mode);
      const out = fn(tx.objectStore("outbox"));
      tx.oncomplete = () => resolve(out && out.result);
      tx.onerror = () => reject(tx.error);
    });
  };
  const showQueue = async () => {
    const n = await store("readonly", (s) => s.count());
    $("queue").textContent = n ? `${msg.pending} ${n}` : "";
  };
  let flushing = false;
  const flush = async () => {
    if (flushing) return;
    flushing = true;
    try {
      const records = await store("readonly", (s) => s.getAll());
      for (let i = 0; i < records.length; i += 50) {
        const part = records.slice(i, i + 50);
        const res = await fetch(api("results"), {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ measurements: part, sent_at: new Date().toISOString() }),
        });
        if (res.ok || res.status === 422) {
          await store("readwrite", (s) => part.forEach((r) => s.delete(r.id)));
          $("status").textContent = res.ok ? msg.sent : msg.refused;
        } else break;
      }
    } catch (e) {
      $("status").textContent = msg.queued;
    } finally {
      flushing = false;
      await showQueue();
    }
  };
  window.addEventListener("online", flush);

  // --- measuring ---
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const ping = async () => {
    const t0 = performance.now();
    const res = await fetch(api("ping", `&n=${Math.random()}`), { cache: "no-store" });
    if (res.status !== 204) throw new Error(`ping: HTTP ${res.status}`);
    return performance.now() - t0;
  };
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2 : null;
  };
  const jitter = (xs) => xs.length < 2 ? null
    : xs.slice(1).reduce((a, x, i) => a + Math.abs(x - xs[i]), 0) / (xs.length - 1);

  const upBody = (() => {
    const b = new Uint8Array(METHOD.up_request_bytes);
    for (let i = 0; i < b.length; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
    return new Blob([b]);
  })();

  // One direction: `streams` loops of requests; bytes counted as they move; stops at max_s,
  // at the cap, or once the mean rate after warm-up is clearly above or below the target.
  const transfer = async (direction, capBytes, onProgress) => {
    // Every request reserves its bytes first, so the test never moves more than the cap.
    let moved = 0, reserved = 0, stop = false, failure = null;
    const reserve = (wanted) => {
      const n = Math.max(0, Math.min(wanted, Math.floor(capBytes - reserved)));
      reserved += n;
      return n;
    };
    const xhrs = new Set(), readers = new Set();
    const down = async () => {
      for (let n = reserve(METHOD.down_request_bytes); !stop && n > 0; n = reserve(METHOD.down_request_bytes)) {
        const res = await fetch(api("down", `&bytes=${n}`), { cache: "no-store" });
        if (!res.ok) throw new Error(`download: HTTP ${res.status}`);
        const reader = res.body.getReader();
        readers.add(reader);
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          moved += value.length;
        }
        readers.delete(reader);
      }
    };
    const up = () => new Promise((resolve, reject) => {
      const next = () => {
        const n = stop ? 0 : reserve(METHOD.up_request_bytes);
        if (n === 0) { resolve(); return; }
        const xhr = new XMLHttpRequest();
        let last = 0;
        xhrs.add(xhr);
        xhr.upload.onprogress = (e) => { moved += e.loaded - last; last = e.loaded; };
        xhr.onload = () => {
          xhrs.delete(xhr);
          if (xhr.status !== 200) { reject(new Error(`upload: HTTP ${xhr.status}`)); return; }
          moved += n - last;
          next();
        };
        xhr.onerror = () => { xhrs.delete(xhr); if (stop) resolve(); else reject(new Error("upload: network error")); };
        xhr.onabort = () => resolve();
        xhr.open("POST", api("up"));
        xhr.send(n === upBody.size ? upBody : upBody.slice(0, n));
      };
      next();
    });
    const loaded = [];
    const pinger = (async () => { while (!stop) { try { loaded.push(await ping()); } catch (e) { break; } await sleep(400); } })();
    const t0 = performance.now();
    const streams = Array.from({ length: METHOD.streams }, () => (direction === "down" ? down() : up())
      .catch((e) => { if (!stop) failure = e; }));
    // After the warm-up: (time, bytes) points every sample_s; the rate is their least-squares
    // slope, which uneven delivery to the script (bursts, late timers) does not bias.
    const samples = [], points = [];
    let lastT = 0, lastBytes = 0, reason = "max_duration";
    while (true) {
      await sleep(METHOD.sample_s * 1000);
      const t = (performance.now() - t0) / 1000;
      if (failure) { reason = "error"; break; }
      if (t >= METHOD.warmup_s) {
        if (points.length) samples.push((moved - lastBytes) * 8 / (t - lastT) / 1e6);
        points.push([t, moved]);
      }
      lastT = t; lastBytes = moved;
      onProgress(Math.min(1, t / METHOD.max_s));
      if (moved >= capBytes || (reserved >= capBytes && readers.size + xhrs.size === 0)) {
        reason = "data_cap"; break;
      }
      if (t >= METHOD.max_s) break;
      if (points.length && t - points[0][0] >= METHOD.min_s && samples.length >= 4) {
        const m = samples.reduce((a, x) => a + x, 0) / samples.length;
        const sd = Math.sqrt(samples.reduce((a, x) => a + (x - m) ** 2, 0) / (samples.length - 1));
        const se = sd / Math.sqrt(samples.length);
        if (m - 3 * se > cfg.target * 1.1 || m + 3 * se < cfg.target * 0.9) { reason = "verdict_clear"; break; }
      }
    }
    stop = true;
    const t1 = (performance.now() - t0) / 1000;
    const total = moved;
    for (const r of readers) r.cancel().catch(() => {});
    for (const x of xhrs) x.abort();
    await Promise.all(streams);
    await pinger;
    // The slope after the warm-up when there are 3 points or more; a cap reached sooner leaves
    // the whole transfer.
    const slope = (pts) => {
      const mt = pts.reduce((a, p) => a + p[0], 0) / pts.length;
      const mb = pts.reduce((a, p) => a + p[1], 0) / pts.length;
      const stt = pts.reduce((a, p) => a + (p[0] - mt) ** 2, 0);
      return pts.reduce((a, p) => a + (p[0] - mt) * (p[1] - mb), 0) / stt;
    };
    const warm = points.length >= 3 && !failure;
    const rate = warm ? Math.max(0, slope(points)) * 8 / 1e6
      : (total > 0 && !failure ? total * 8 / t1 / 1e6 : null);
    return { mbps: rate, bytes: total, duration_s: t1, reason, failure, warmup: warm,
             loaded_rtt_ms: median(loaded), loaded_jitter_ms: jitter(loaded) };
  };

  const position = () => new Promise((resolve) => {
    if (!navigator.geolocation) { resolve(null); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve(p.coords), () => resolve(null),
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 30000 });
  });

  const record = (base, kind, fields) => ({ ...base, id: uuid4(), kind, ...fields });

  const runTest = async (capBytes) => {
    const choice = document.querySelector("input[name=access]:checked");
    const started = new Date();
    const coords = await position();
    const base = {
      schema_version: 1, probe_id: `web-${device}`, source: "browser", measured_at: started.toISOString(),
      tool: "lomsong-web", tool_version: String(METHOD.version), server: testServer || location.origin,
      carrier: $("carrier").value, access: choice ? choice.value : "unknown", site_id: cfg.site,
    };
    if (coords) Object.assign(base, { lat: coords.latitude, lon: coords.longitude,
      accuracy_m: Math.min(coords.accuracy, 100000), position_source: "browser" });
    const figures = $("figures");
    figures.textContent = "";
    const show = (k, v) => { const dt = document.createElement("dt"); dt.textContent = msg[k];
      const dd = document.createElement("dd"); dd.textContent = v; figures.append(dt, dd); };
    const bar = $("progress");
    $("status").textContent = msg.latency;
    const idle = [];
    let latencyError = null;
    for (let i = 0; i < METHOD.idle_pings; i++) {
      try { idle.push(await ping()); } catch (e) { latencyError = e; break; }
      bar.value = (i + 1) * 10 / METHOD.idle_pings;
    }
    const raw = (extra) => JSON.stringify({ method: METHOD, ...extra });
    const out = [];
    const rtt = median(idle);
    out.push(rtt === null
      ? record(base, "latency", { error_kind: "network_unreachable", error_message: String(latencyError).slice(0, 500), raw: raw({}) })
      : record(base, "latency", { rtt_ms: rtt, jitter_ms: jitter(idle), raw: raw({ idle_rtt_ms: idle }) }));
    if (rtt !== null) show("rtt", `${fmt(rtt, 0)} ms`);
    let used = 0, downText = "–", downOk = null;
    for (const [direction, kind, field, label, from] of [
      ["down", "throughput_down", "download_mbps", "download", 10], ["up", "throughput_up", "upload_mbps", "upload", 55]]) {
      $("status").textContent = msg[direction];
      const r = await transfer(direction, (capBytes - used) / (direction === "down" ? 2 : 1),
        (f) => { bar.value = from + 45 * f; });
      used += r.bytes;
      const detail = { stop_reason: r.reason, after_warmup: r.warmup, loaded_rtt_ms: r.loaded_rtt_ms,
        loaded_jitter_ms: r.loaded_jitter_ms };
      if (r.failure || r.mbps === null) {
        const http = r.failure && / HTTP \d+$/.test(r.failure.message);
        out.push(record(base, kind, { error_kind: http ? "http_error" : "network_unreachable", bytes_used: r.bytes,
          duration_s: r.duration_s, error_message: String(r.failure || "no bytes moved").slice(0, 500), raw: raw(detail) }));
      } else {
        out.push(record(base, kind, { [field]: r.mbps, bytes_used: r.bytes, duration_s: r.duration_s, raw: raw(detail) }));
        show(label, `${fmt(r.mbps)} Mbit/s`);
        if (direction === "down") downText = `${fmt(r.mbps)} Mbit/s`;
        if (direction === "down") {
          const v = $("verdict");
          const ok = r.mbps >= cfg.target;
          downOk = ok;
          v.className = ok ? "above" : "below";
          v.textContent = `${ok ? msg.above : msg.below}: ${fmt(cfg.target, 0)} Mbit/s`;
        }
      }
    }
    bar.value = 100;
    show("data", `${fmt(used / 1e6)} MB`);
    const list = $("points");
    const li = document.createElement("li");
    li.textContent = `${started.toLocaleTimeString(cfg.lang)} · ${downText}`
      + (coords ? ` · ${coords.latitude.toFixed(5)}, ${coords.longitude.toFixed(5)} (±${Math.round(coords.accuracy)} m)` : "");
    list.prepend(li);
    if (coords) drawPoint(coords.latitude, coords.longitude, downOk);
    $("status").textContent = msg.sending;
    await store("readwrite", (s) => out.forEach((r) => s.put(r)));
    await flush();
    return used;
  };

  // The volunteer's own points on a small map (no tiles: positions only, north up, with a
  // 100-m bar), green at or above the target, red below, grey when the download failed.
  const walked = [];
  const drawPoint = (lat, lon, ok) => {
    walked.push({ lat, lon, ok });
    const svg = $("map"), ns = "http://www.w3.org/2000/svg", w = 300, h = 200, pad = 15;
    svg.removeAttribute("hidden");
    svg.replaceChildren();
    const k = Math.cos(lat * Math.PI / 180) * 111320, m = 111320;
    const xs = walked.map((p) => p.lon * k), ys = walked.map((p) => p.lat * m);
    const span = Math.max(200, Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
    const scale = Math.min(w, h) - 2 * pad;
    const cx = (Math.max(...xs) + Math.min(...xs)) / 2, cy = (Math.max(...ys) + Math.min(...ys)) / 2;
    const px = (x) => w / 2 + (x - cx) / span * scale, py = (y) => h / 2 - (y - cy) / span * scale;
    const el = (name, attrs) => { const e = document.createElementNS(ns, name);
      for (const [a, v] of Object.entries(attrs)) e.setAttribute(a, String(v)); svg.append(e); return e; };
    el("rect", { x: 0, y: 0, width: w, height: h, fill: "#f4f6f8" });
    el("polyline", { points: walked.map((p, i) => `${px(xs[i])},${py(ys[i])}`).join(" "),
      fill: "none", stroke: "#9aa5b1", "stroke-width": 1 });
    walked.forEach((p, i) => el("circle", { cx: px(xs[i]), cy: py(ys[i]), r: 5,
      fill: p.ok === null ? "#888" : (p.ok ? "#1a7f37" : "#c62828") }));
    el("line", { x1: pad, y1: h - 8, x2: pad + 100 / span * scale, y2: h - 8, stroke: "#333", "stroke-width": 2 });
    el("text", { x: pad, y: h - 12, "font-size": 10 }).textContent = "100 m";
  };

  let paused = false;
  $("pause").addEventListener("click", () => { paused = true; $("pause").hidden = true; $("resume").hidden = false; });
  $("resume").addEventListener("click", () => { paused = false; $("resume").hidden = true; $("pause").hidden = false; });
  $("start").addEventListener("click", async () => {
    $("consent").hidden = true;
    $("run").hidden = false;
    const cap = Math.max(5, Number($("cap").value) || 100) * 1e6;
    const walk = $("walk").checked;
    let budget = Math.max(10, Number($("budget").value) || 500) * 1e6;
    $("pause").hidden = !walk;
    do {
      budget -= await runTest(Math.min(cap, budget));
      if (!walk) break;
      if (budget < 5e6) { $("status").textContent = msg.budget; break; }
      $("status").textContent = msg.waiting;
      await sleep(METHOD.walk_interval_s * 1000);
      while (paused) { $("status").textContent = msg.paused; await sleep(500); }
    } while (true);
    $("pause").hidden = true;
  });
  showQueue().then(flush);
})();
