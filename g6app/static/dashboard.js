// The live dashboard: one EventSource on /summary/events, panels kept in the page.
//
// EventSource gives up for good on any non-200 answer (401, 429, ...), so this script owns
// reconnection: backoff with jitter, resume from the last state id (last_event_id, since an
// EventSource cannot set headers), a token read once and never written to the console.
"use strict";

(function () {
  const body = document.body;
  const EVENTS_URL = body.dataset.eventsUrl;
  const HEALTH_URL = body.dataset.healthUrl;
  const STALE_AFTER_MS = Number(body.dataset.staleAfterSeconds || 15) * 1000;
  const HEALTH_EVERY_MS = 5000;
  const FLASH_MS = 1600;
  const BACKOFF_MIN_MS = 1000;
  const BACKOFF_MAX_MS = 15000;
  const TOKEN_KEY = "g6.token";
  const EVENT_TYPES = ["hello", "full_snapshot", "panel_update", "heartbeat", "error",
    "resync_required", "bye"];

  const $ = (id) => document.getElementById(id);
  const pageParams = new URLSearchParams(location.search);
  const panelFilter = pageParams.get("panels");
  const canVerify = Boolean(window.isSecureContext && window.crypto && crypto.subtle);
  const flashTimers = new Map();
  const st = {
    es: null, opened: false, attempt: 0, timer: null, byeReason: null,
    lastId: "", lastEventAt: 0, lastChangeAt: null, token: readToken(),
  };

  // -- token: from ?access_token= once (then removed from the address bar) or typed once --

  function readToken() {
    const fromUrl = pageParams.get("access_token");
    if (fromUrl !== null) {
      pageParams.delete("access_token");
      const rest = pageParams.toString();
      history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
      if (fromUrl) sessionStorage.setItem(TOKEN_KEY, fromUrl);
    }
    return sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY) || "";
  }

  function authHeaders() {
    return st.token ? { "X-API-Token": st.token } : {};
  }

  function askForToken(message) {
    $("token-msg").textContent = message;
    $("token-form").hidden = false;
    setConn("auth", "token needed");
  }

  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("token");
    st.token = input.value.trim();
    input.value = "";
    const store = $("remember").checked ? localStorage : sessionStorage;
    store.setItem(TOKEN_KEY, st.token);
    $("token-form").hidden = true;
    st.attempt = 0;
    connect();
  });

  // -- connection --------------------------------------------------------------------------

  function streamUrl(withToken) {
    const q = new URLSearchParams();
    if (panelFilter) q.set("panels", panelFilter);
    if (st.lastId) q.set("last_event_id", st.lastId);
    if (withToken && st.token) q.set("access_token", st.token);
    const s = q.toString();
    return EVENTS_URL + (s ? "?" + s : "");
  }

  function setConn(state, detail) {
    const pill = $("conn");
    pill.dataset.state = state;
    pill.textContent = detail ? state + " \u00b7 " + detail : state;
  }

  function connect() {
    clearTimeout(st.timer);
    st.timer = null;
    if (st.es) st.es.close();
    st.opened = false;
    st.byeReason = null;
    const es = new EventSource(streamUrl(true));
    st.es = es;
    es.addEventListener("open", () => { if (es === st.es) st.opened = true; });
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (e) => {
        if (es !== st.es) return;
        if (e instanceof MessageEvent) onEvent(type, e);
        else if (type === "error") onConnectionError(es);
      });
    }
  }

  function schedule(delayMs, why) {
    clearTimeout(st.timer);
    setConn("reconnecting", why + ", retry in " + Math.ceil(delayMs / 1000) + "s");
    st.timer = setTimeout(connect, delayMs);
  }

  function backoffMs() {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** st.attempt);
    st.attempt += 1;
    return ceiling / 2 + Math.random() * ceiling / 2;
  }

  function onConnectionError(es) {
    es.close();
    st.es = null;
    if (st.byeReason === "max_lifetime") return schedule(200 + Math.random() * 800, "stream renewed");
    if (st.byeReason === "shutdown") return schedule(1000 + Math.random() * 4000, "server restarting");
    if (st.opened) return schedule(backoffMs(), "stream lost");
    diagnose();
  }

  // Why a stream did not open: EventSource hides the status, a fetch shows it (then aborts).
  async function diagnose() {
    const abort = new AbortController();
    let resp;
    try {
      resp = await fetch(streamUrl(false), { headers: authHeaders(), signal: abort.signal,
        cache: "no-store" });
    } catch (err) {
      return schedule(backoffMs(), "server unreachable");
    } finally {
      abort.abort();
    }
    if (resp.status === 401) return askForToken(st.token ? "token rejected" : "this server needs a token");
    if (resp.status === 429) {
      const after = Number(resp.headers.get("Retry-After")) * 1000 || 0;
      return schedule(Math.max(after, backoffMs()), "rate limited");
    }
    if (resp.status === 400 && st.lastId) st.lastId = "";
    schedule(backoffMs(), resp.ok ? "stream interrupted" : "HTTP " + resp.status);
  }

  // -- events ------------------------------------------------------------------------------

  function onEvent(type, e) {
    let data;
    try { data = JSON.parse(e.data); } catch (err) { return; }
    st.lastEventAt = Date.now();
    if (type === "hello") {
      st.attempt = 0;
      $("token-form").hidden = true;
      showNotice("");
    } else if (type === "full_snapshot") {
      for (const [key, p] of Object.entries(data.panels || {})) applyPanel(key, p);
    } else if (type === "panel_update") {
      for (const p of data.updates || []) applyPanel(p.key, p);
    } else if (type === "error") {
      showNotice("source error: " + data.message + " (showing the last good state)");
    } else if (type === "resync_required") {
      st.lastId = "";
      st.es.close();
      return schedule(0, "resync");
    } else if (type === "bye") {
      st.byeReason = data.reason;
    }
    if (st.byeReason === null) setConn("live");
    if (data.cycle !== undefined && data.cycle !== null) $("cycle").textContent = data.cycle;
    // Only the final event of a transfer carries an id; partial ones leave the resume id alone.
    if (!data.partial && e.lastEventId) {
      st.lastId = e.lastEventId;
      $("state-id").textContent = e.lastEventId;
    }
  }

  function applyPanel(key, p) {
    const card = $("panel-" + key);
    if (!card || card.dataset.hash === p.hash) return;
    const changed = card.dataset.hash !== "";
    card.dataset.hash = p.hash;
    card.querySelector(".title").textContent = p.title;
    card.querySelector(".lines").textContent = (p.lines || []).join("\n");
    card.classList.toggle("failed", p.title === "ERROR");
    st.lastChangeAt = new Date();
    $("changed").textContent = st.lastChangeAt.toLocaleTimeString();
    if (changed) flash(card);
    verify(card, p);
  }

  function flash(card) {
    card.classList.remove("changed");
    void card.offsetWidth;  // restart the animation
    card.classList.add("changed");
    clearTimeout(flashTimers.get(card));
    flashTimers.set(card, setTimeout(() => card.classList.remove("changed"), FLASH_MS));
  }

  // The panel hash is SHA-256 of {"lines":[...],"title":...} as compact JSON with sorted keys,
  // which is exactly what JSON.stringify makes of this object literal.
  async function verify(card, p) {
    const badge = card.querySelector(".badge");
    if (!canVerify) {
      card.dataset.verified = "unavailable";
      badge.title = "hash not checked (needs a secure context)";
      return;
    }
    const text = JSON.stringify({ lines: p.lines, title: p.title });
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
    if (card.dataset.hash !== p.hash) return;  // a newer update arrived meanwhile
    const ok = hex === p.hash;
    card.dataset.verified = ok ? "ok" : "mismatch";
    badge.textContent = ok ? "\u2713" : "hash mismatch";
    badge.title = ok ? "content matches its hash" : "content does not match its hash";
  }

  function showNotice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }

  // -- staleness and source health ---------------------------------------------------------

  function tick() {
    if (st.lastChangeAt) {
      const s = Math.round((Date.now() - st.lastChangeAt) / 1000);
      $("changed-ago").textContent = "(" + s + "s ago)";
    }
    const silentMs = Date.now() - st.lastEventAt;
    const state = $("conn").dataset.state;
    if (st.es && (state === "live" || state === "stale") && silentMs > STALE_AFTER_MS) {
      if (silentMs > 2 * STALE_AFTER_MS) {
        st.es.close();
        st.es = null;
        return schedule(backoffMs(), "stream silent");
      }
      setConn("stale", "no event for " + Math.round(silentMs / 1000) + "s");
    }
  }

  async function pollHealth() {
    const el = $("health");
    try {
      const resp = await fetch(HEALTH_URL, { headers: authHeaders(), cache: "no-store" });
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      const h = await resp.json();
      const src = h.source || {};
      const age = src.age_seconds === null || src.age_seconds === undefined
        ? "no status yet" : "age " + src.age_seconds.toFixed(1) + "s";
      el.textContent = "source " + (src.kind || "?") + " \u00b7 " + age +
        (src.last_error ? " \u00b7 " + src.last_error : "");
      el.dataset.health = src.last_error || src.age_seconds === null ? "error" : "ok";
    } catch (err) {
      el.textContent = "source health unavailable";
      el.dataset.health = "unknown";
    }
  }

  if (panelFilter) {
    const wanted = panelFilter.split(",").map((key) => key.trim());
    for (const card of document.querySelectorAll(".card")) card.hidden = !wanted.includes(card.dataset.key);
  }
  window.addEventListener("online", () => { if (st.timer) connect(); });
  setInterval(tick, 1000);
  setInterval(pollHealth, HEALTH_EVERY_MS);
  pollHealth();
  connect();
})();
