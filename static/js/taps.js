// Taps that survive a flaky classroom network.
//
// Every tap request carries a fresh idempotency key and the record version the page showed,
// so a retried or replayed tap is never applied twice and a tap made on stale information is
// reported instead of silently overwriting someone else's change. While the network is down,
// taps queue here (the cell shows the intended status, dashed, and a "N pending" badge
// counts them); they replay, one by one, when the connection returns. Nothing a teacher
// tapped is silently lost: every replay ends with the server's cell, or its rule's message.
// A tap the server answers 503 (its database unavailable: nothing was written) queues the
// same way and is sent again after the server's Retry-After; its idempotency key makes the
// retry safe, and a notice in view says the taps are waiting. So does a tap whose request
// failed on the way while the page still looked online. This file is the one voice for
// queued taps: app.js leaves their failures to it, and while the page is offline the
// roster's offline banner (body[data-live=offline]) says it for both.
(function () {
  "use strict";
  var NEXT = { "": "PRESENT", PRESENT: "ABSENT", ABSENT: "LATE", LATE: "PRESENT" };
  var queue = [];        // [{studentId, url, status, key, version}]
  var flushing = null;   // the running flush's promise
  var retryTimer = null;
  // Why taps wait beyond being offline: "unavailable" (the server answered 503) or
  // "unreachable" (a request failed on the way); null once a tap gets through.
  var waitingBecause = null;
  var NOTICES = {
    unavailable: "The server cannot save right now: ",
    unreachable: "No connection: "
  };
  var DEFAULT_RETRY_MS = 4000;

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0;
      return (c === "x" ? r : (r & 0x3 | 0x8)).toString(16);
    });
  }

  function cellFor(elt) {
    return elt && elt.closest ? elt.closest("#roster-grid [data-student-id]") : null;
  }

  function isTap(detail) {
    return /\/students\/[^/]+\/status$/.test(detail.path || "");
  }

  function offline() {
    return navigator.onLine === false || document.body.dataset.live === "offline";
  }

  function badge() {
    var el = document.getElementById("pending-badge");
    if (el) {
      el.hidden = queue.length === 0;
      el.textContent = queue.length + " pending";
    }
    if (!queue.length) { waitingBecause = null; }
    var notice = document.getElementById("unavailable-notice");
    if (notice) {
      notice.hidden = !(waitingBecause && queue.length);
      notice.textContent = (NOTICES[waitingBecause] || "") + queue.length +
        (queue.length === 1 ? " tap is" : " taps are") +
        " kept on this device and sent again in a moment.";
    }
  }

  function retryDelay(retryAfter) {
    // Retry-After in seconds (how the server says when to come back), within 1..60 s.
    var seconds = parseInt(retryAfter || "", 10);
    return isNaN(seconds) ? DEFAULT_RETRY_MS : Math.min(60, Math.max(1, seconds)) * 1000;
  }

  function showIntended(cell, status) {
    // What the teacher tapped, until the server confirms it (then the server's cell replaces
    // this one). The next tap cycles from here.
    window.attendanceCells.paint(cell, { status: status }, { pending: true });
  }

  function enqueue(cell, url, params, delayMs) {
    var status = params.status || NEXT[params.seen || ""];
    var entry = { studentId: cell.dataset.studentId, url: url, status: status,
                  key: params.key || uuid(), version: params.version || cell.dataset.version || "0" };
    // One pending intent per student: a second offline tap replaces the first (not yet sent).
    queue = queue.filter(function (e) { return e.studentId !== entry.studentId || e.sending; });
    queue.push(entry);
    showIntended(cell, status);
    badge();
    scheduleRetry(delayMs);
  }

  function scheduleRetry(delayMs) {
    if (retryTimer || !queue.length) { return; }
    retryTimer = setTimeout(function () { retryTimer = null; flush(); }, delayMs || DEFAULT_RETRY_MS);
  }

  function send(entry) {
    var body = new FormData();
    body.append("status", entry.status);
    body.append("key", entry.key);
    body.append("version", entry.version);
    var meta = document.querySelector('meta[name="csrf-token"]');
    return fetch(entry.url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "HX-Request": "true", "X-CSRFToken": meta ? meta.content : "" }
    }).then(function (response) {
      return response.text().then(function (html) { return { response: response, html: html }; });
    });
  }

  function flush() {
    // Replays the queue in order; resolves when it is empty or the network failed again.
    if (flushing) { return flushing; }
    flushing = (function next() {
      if (!queue.length) { return Promise.resolve(true); }
      var entry = queue[0];
      entry.sending = true;
      return send(entry).then(function (result) {
        if (result.response.status === 503) {
          // Not saved (the database is unavailable): kept, and sent again later.
          entry.sending = false;
          waitingBecause = "unavailable";
          badge();
          scheduleRetry(retryDelay(result.response.headers.get("Retry-After")));
          return false;
        }
        waitingBecause = null;
        queue.shift();
        badge();
        var cell = document.getElementById("cell-" + entry.studentId);
        if (cell && result.html && result.response.headers.get("HX-Retarget") === null) {
          htmx.swap(cell, result.html, { swapStyle: "outerHTML" });
          window.attendanceCells.syncConflicts();  // a refused replay stays said
        } else if (!result.response.ok && window.attendanceFlash) {
          window.attendanceFlash(result.html.replace(/<[^>]+>/g, "").trim() || "A queued tap was refused.");
        }
        return next();
      }, function () {
        entry.sending = false;
        waitingBecause = "unreachable";
        scheduleRetry();
        return false;
      });
    })().then(function (done) { flushing = null; badge(); return done; });
    return flushing;
  }

  // Every tap carries a key and the version it saw; offline, it joins the queue instead.
  document.addEventListener("htmx:configRequest", function (event) {
    var detail = event.detail;
    if (!isTap(detail)) { return; }
    var cell = cellFor(detail.elt);
    if (!cell) { return; }
    detail.parameters.key = uuid();
    detail.parameters.version = cell.dataset.version || "0";
    if (offline() || queue.length) {
      // Keep order: while anything is queued, later taps queue behind it.
      event.preventDefault();
      enqueue(cell, detail.path, { status: detail.parameters.status, seen: detail.parameters.seen,
                                   key: detail.parameters.key, version: detail.parameters.version });
      if (!offline()) { flush(); }
    }
  });

  // A tap that could not reach the server (network down mid-request) joins the queue with
  // the same key, so if the server did get it after all, the replay is a no-op.
  document.addEventListener("htmx:sendError", function (event) {
    var detail = event.detail;
    var config = detail.requestConfig || {};
    if (!isTap(config)) { return; }
    var cell = cellFor(detail.elt);
    if (!cell) { return; }
    var p = config.parameters || {};
    waitingBecause = "unreachable";
    enqueue(cell, config.path, { status: p.status, seen: p.seen, key: p.key, version: p.version });
  });

  // A tap the server answered 503 (nothing saved) joins the queue with the same key too.
  document.addEventListener("htmx:responseError", function (event) {
    var detail = event.detail;
    var config = detail.requestConfig || {};
    if (!isTap(config) || !detail.xhr || detail.xhr.status !== 503) { return; }
    var cell = cellFor(detail.elt);
    if (!cell) { return; }
    var p = config.parameters || {};
    waitingBecause = "unavailable";
    enqueue(cell, config.path, { status: p.status, seen: p.seen, key: p.key, version: p.version },
            retryDelay(detail.xhr.getResponseHeader("Retry-After")));
  });

  window.addEventListener("online", function () { flush(); });

  window.attendanceTaps = {
    flush: flush,
    pending: function () { return queue.length; },
    isTap: isTap
  };
})();
