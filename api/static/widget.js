/*
 * Chat widget for the province portal: one <script> tag, no framework.
 *   <script src="https://HOST/static/widget.js" data-api-base="https://HOST"
 *           data-province="Hậu Giang" data-color="#0b5394" defer></script>
 * Everything from the server is inserted as text (textContent), never as HTML.
 * The session id lives in sessionStorage (this tab only, gone when it closes), and the server
 * ends a conversation idle for a while: a shared kiosk never shows the previous citizen's.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var data = (script && script.dataset) || {};
  var apiBase = (data.apiBase || (script ? new URL(script.src, location.href).origin : "")).replace(/\/$/, "");
  var province = data.province || "";
  var color = data.color || "#0b5394";
  var SESSION_KEY = "hotline-chat-session";
  var URL_RE = /(https?:\/\/[^\s<>"]+)/g;
  var state = { session: null, lastTurn: 0, polling: null, busy: false };
  try { localStorage.removeItem(SESSION_KEY); } catch (e) { /* kept there by older versions */ }
  try { state.session = sessionStorage.getItem(SESSION_KEY); } catch (e) { /* private mode */ }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var css = [
    ".hl-launch{position:fixed;right:16px;bottom:16px;z-index:2147483000;border:0;border-radius:28px;padding:14px 18px;font:600 15px/1.2 system-ui,sans-serif;color:#fff;background:var(--hl-color);box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer}",
    ".hl-panel{position:fixed;right:16px;bottom:16px;z-index:2147483001;width:370px;max-width:calc(100vw - 16px);height:560px;max-height:calc(100vh - 32px);display:flex;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);font:15px/1.45 system-ui,sans-serif;color:#1d1d1d;overflow:hidden}",
    ".hl-panel[hidden]{display:none}",
    ".hl-head{display:flex;align-items:center;gap:8px;padding:12px 14px;color:#fff;background:var(--hl-color)}",
    ".hl-head h2{flex:1;margin:0;font-size:16px}",
    ".hl-head button{border:0;background:transparent;color:#fff;font-size:22px;cursor:pointer;min-width:44px;min-height:44px}",
    ".hl-log{flex:1;overflow-y:auto;padding:12px;background:#f4f6f8}",
    ".hl-msg{max-width:85%;margin:6px 0;padding:8px 11px;border-radius:10px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".hl-bot,.hl-staff{background:#fff;border:1px solid #dde3ea}",
    ".hl-staff{border-color:var(--hl-color)}",
    ".hl-me{margin-left:auto;color:#fff;background:var(--hl-color)}",
    ".hl-msg a{color:inherit;text-decoration:underline}",
    ".hl-buttons{display:flex;flex-wrap:wrap;gap:6px;margin:4px 0 8px}",
    ".hl-buttons button,.hl-human{border:1px solid var(--hl-color);border-radius:16px;padding:8px 12px;background:#fff;color:var(--hl-color);font:inherit;cursor:pointer;min-height:40px;text-align:left}",
    ".hl-typing{padding:0 14px 6px;color:#555;font-size:13px;background:#f4f6f8}",
    ".hl-form{display:flex;gap:6px;padding:10px;border-top:1px solid #dde3ea}",
    ".hl-form input{flex:1;min-width:0;padding:10px;border:1px solid #b8c2cc;border-radius:8px;font:inherit}",
    ".hl-form button{padding:0 14px;border:0;border-radius:8px;color:#fff;background:var(--hl-color);font:inherit;cursor:pointer}",
    ".hl-tools{padding:0 10px 10px}",
    ".hl-panel :focus-visible{outline:3px solid #f0a500;outline-offset:2px}",
    "@media (max-width:480px){.hl-panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100vh;max-height:100vh;border-radius:0}}"
  ].join("\n");
  var style = el("style");
  style.textContent = css;
  document.head.appendChild(style);

  var root = el("div", { "class": "hl-root" });
  root.style.setProperty("--hl-color", color);
  var launch = el("button", { "class": "hl-launch", type: "button", "aria-expanded": "false", "aria-controls": "hl-panel" }, "Hỏi đáp thủ tục");
  var panel = el("section", { "class": "hl-panel", id: "hl-panel", role: "dialog", "aria-label": "Trợ lý dịch vụ công" });
  panel.hidden = true;
  var head = el("div", { "class": "hl-head" });
  head.appendChild(el("h2", {}, "Trợ lý dịch vụ công" + (province ? " " + province : "")));
  var close = el("button", { type: "button", "aria-label": "Đóng cửa sổ trò chuyện" }, "×");
  head.appendChild(close);
  var log = el("div", { "class": "hl-log", role: "log", "aria-live": "polite" });
  var typing = el("div", { "class": "hl-typing", "aria-live": "polite" });
  var form = el("form", { "class": "hl-form" });
  var input = el("input", { type: "text", name: "message", maxlength: "2000", autocomplete: "off", placeholder: "Nhập câu hỏi…", "aria-label": "Câu hỏi của anh/chị" });
  var send = el("button", { type: "submit" }, "Gửi");
  form.appendChild(input);
  form.appendChild(send);
  var tools = el("div", { "class": "hl-tools" });
  var human = el("button", { type: "button", "class": "hl-human" }, "Gặp nhân viên");
  tools.appendChild(human);
  [head, log, typing, form, tools].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(launch);
  root.appendChild(panel);
  document.body.appendChild(root);

  function appendText(node, text) {
    // Links become <a> elements built from text; nothing is ever parsed as HTML.
    var last = 0;
    text.replace(URL_RE, function (url, _g, offset) {
      node.appendChild(document.createTextNode(text.slice(last, offset)));
      var a = el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url);
      node.appendChild(a);
      last = offset + url.length;
      return url;
    });
    node.appendChild(document.createTextNode(text.slice(last)));
  }

  function addMessage(role, text, buttons) {
    var bubble = el("div", { "class": "hl-msg hl-" + role });
    appendText(bubble, text);
    log.appendChild(bubble);
    if (buttons && buttons.length) {
      var row = el("div", { "class": "hl-buttons" });
      buttons.forEach(function (b) {
        var button = el("button", { type: "button" }, b.title);
        button.addEventListener("click", function () { ask(b.payload, b.title); });
        row.appendChild(button);
      });
      log.appendChild(row);
    }
    log.scrollTop = log.scrollHeight;
  }

  function remember(session) {
    state.session = session;
    try { sessionStorage.setItem(SESSION_KEY, session); } catch (e) { /* ignore */ }
  }

  function forget() {
    // The server ended the conversation (idle too long) or no longer knows it.
    state.session = null;
    state.lastTurn = 0;
    if (state.polling) { clearInterval(state.polling); state.polling = null; }
    try { sessionStorage.removeItem(SESSION_KEY); } catch (e) { /* ignore */ }
  }

  function request(method, path, body) {
    return fetch(apiBase + path, {
      method: method,
      headers: body ? { "content-type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().then(function (json) { return { ok: r.ok, status: r.status, json: json }; });
    });
  }

  function syncTurns() {
    // Learn the newest turn id so that polling after a handoff shows only new staff replies.
    if (!state.session) return Promise.resolve([]);
    return request("GET", "/api/v1/chat/" + encodeURIComponent(state.session) + "/messages?after=" + state.lastTurn)
      .then(function (r) {
        if (r.status === 404 || r.status === 410) {
          if (state.polling) addMessage("bot", "Phiên trò chuyện đã kết thúc. Anh/chị gửi tin nhắn mới để bắt đầu lại.");
          forget();
          return [];
        }
        if (!r.ok) return [];
        r.json.forEach(function (t) { state.lastTurn = Math.max(state.lastTurn, t.id); });
        return r.json;
      }).catch(function () { return []; });
  }

  function startPolling() {
    if (state.polling) return;
    state.polling = setInterval(function () {
      syncTurns().then(function (turns) {
        turns.forEach(function (t) { if (t.role === "staff") addMessage("staff", "Nhân viên: " + t.text); });
      });
    }, 3000);
  }

  function ask(message, shown) {
    if (state.busy || !message.trim()) return;
    state.busy = true;
    addMessage("me", shown || message);
    typing.textContent = "Trợ lý đang trả lời…";
    request("POST", "/api/v1/chat", { session_id: state.session, message: message })
      .then(function (r) {
        if (!r.ok) {
          var detail = (r.json && r.json.error && r.json.error.message) || "";
          if (r.status === 429 && detail) { addMessage("bot", detail); return; }  // already Vietnamese
          addMessage("bot", "Xin lỗi, tin nhắn chưa gửi được" + (detail ? " (" + detail + ")" : "") + ". Anh/chị thử lại nhé.");
          return;
        }
        remember(r.json.session_id);
        r.json.messages.forEach(function (m) { addMessage("bot", m.text, m.buttons); });
        return syncTurns().then(function () { if (r.json.handoff) startPolling(); });
      })
      .catch(function () {
        addMessage("bot", "Mất kết nối tới máy chủ. Anh/chị vui lòng thử lại hoặc gọi tổng đài.");
      })
      .then(function () { typing.textContent = ""; state.busy = false; input.focus(); });
  }

  function showNotifications() {
    // Dossier news queued for this session since it was last open (also after it ended).
    if (!state.session) return Promise.resolve();
    var path = "/api/v1/chat/" + encodeURIComponent(state.session) + "/notifications";
    return request("GET", path).then(function (r) {
      if (!r.ok || !r.json.length) return;
      r.json.forEach(function (n) { addMessage("bot", n.text); });
      var row = el("div", { "class": "hl-buttons" });
      var stop = el("button", { type: "button" }, "Ngừng nhận thông báo");
      stop.addEventListener("click", function () {
        row.remove();
        request("POST", path + "/cancel").then(function (c) {
          if (c.ok) addMessage("bot", "Đã hủy nhận thông báo hồ sơ. Tổng đài sẽ không gửi thêm tin nào.");
        }).catch(function () { /* the citizen can type "hủy thông báo" */ });
      });
      row.appendChild(stop);
      log.appendChild(row);
    }).catch(function () { /* news waits for the next time */ });
  }

  function restore() {
    showNotifications().then(showTranscript);
  }

  function showTranscript() {
    if (!state.session) {
      addMessage("bot", "Xin chào! Anh/chị cần hỏi về thủ tục hành chính nào ạ?");
      return;
    }
    syncTurns().then(function (turns) {
      if (!turns.length) { addMessage("bot", "Xin chào! Anh/chị cần hỏi về thủ tục hành chính nào ạ?"); return; }
      turns.forEach(function (t) { addMessage(t.role === "citizen" ? "me" : t.role, t.text); });
    });
  }

  function open() {
    panel.hidden = false;
    launch.hidden = true;
    launch.setAttribute("aria-expanded", "true");
    if (!log.childNodes.length) restore();
    input.focus();
  }

  function shut() {
    panel.hidden = true;
    launch.hidden = false;
    launch.setAttribute("aria-expanded", "false");
    launch.focus();
  }

  launch.addEventListener("click", open);
  close.addEventListener("click", shut);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") shut(); });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    input.value = "";
    ask(text);
  });
  human.addEventListener("click", function () { ask("/handoff", "Gặp nhân viên"); });
  window.HotlineChat = { open: open, close: shut };
})();
