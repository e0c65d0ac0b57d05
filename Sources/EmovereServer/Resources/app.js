// Emovere web page: webcam frames over a WebSocket to /v1/stream, photos to /v1/analyze.
// Plain JavaScript, no build step, no third-party code.
"use strict";

const EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
const COLORS = {
  angry: "rgb(230,45,45)", disgust: "rgb(120,190,40)", fear: "rgb(170,90,230)", happy: "rgb(255,205,30)",
  sad: "rgb(60,130,240)", surprise: "rgb(255,135,30)", neutral: "rgb(200,200,200)",
};
const MAX_FPS = 12;              // frames sent per second at most
const FRAME_WIDTH = 640;         // frames are scaled down to this width before sending
const JPEG_QUALITY = 0.75;
const CHART_POINTS = 150;        // samples kept in the rolling chart
const REPLY_TIMEOUT = 15000;     // ms without a reply to a frame before the stream is given up (a dead network)
const RECONNECTS = 5;            // tries to reopen a stream the server closed (a restart), 1 s doubling to 16 s
const CONNECT_TIMEOUT = 10000;   // ms for the stream to open (a proxy that never completes the upgrade)
const STEADY_REPLIES = 10;       // replies after which a reopened stream counts as working again
// What a close without a reason of its own means (RFC 6455 7.4.1 and IANA's registry); others are shown as they are.
const CLOSE_CODES = {
  1000: "the server ended it (a restart or shutdown)",
  1001: "the server is stopping or restarting",
  1006: "the connection was lost",
  1009: "a frame was larger than the server accepts (its --max-frame-bytes)",
  1011: "the server failed",
  1013: "the server is busy; try again later",
};

const $ = (id) => document.getElementById(id);
const video = $("video"), overlay = $("overlay"), stats = $("stats"), status = $("status");
const cameraButton = $("camera-button"), chart = $("chart"), announcer = $("announcer");
const grabber = document.createElement("canvas");

let labels = EMOTIONS.slice();
let socket = null, stream = null, running = false, inFlight = false;
let tickTimer = 0, replyTimer = 0, reconnectTimer = 0, connectTimer = 0, reconnects = 0, repliesSinceOpen = 0;
let lastSent = 0, sentAt = 0, replies = [], lastReply = null, droppedTotal = 0, errorReplies = 0, photoRequests = 0;
const history = [];

fetch("/v1/models").then((r) => r.ok ? r.json() : null).then((card) => {
  if (card && Array.isArray(card.labels) && card.labels.length) labels = card.labels;
  drawLegend();
}).catch(() => drawLegend());

function drawLegend() {
  $("legend").replaceChildren(...labels.map((name) => {
    const item = document.createElement("span");
    item.textContent = name;
    item.style.setProperty("--swatch", COLORS[name] || "#888");
    return item;
  }));
}

// ---- Live stream ---------------------------------------------------------------------------------------------

// The camera held (streaming, or waiting to reconnect): the button stops it.
cameraButton.addEventListener("click", () => (stream ? stop() : start()));

async function start() {
  cameraButton.disabled = true;
  announcer.textContent = "";  // a new attempt: its messages are read out even when they repeat the last one
  if (!window.isSecureContext || !navigator.mediaDevices) {
    // Browsers give the camera only to pages served over HTTPS or from this machine (localhost).
    showStatus("camera unavailable: the browser allows it only over HTTPS or on localhost; open this page at http://127.0.0.1 on the server's machine, or serve it behind a TLS proxy", true);
    cameraButton.disabled = false;
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (error) {
    showStatus(`camera unavailable: ${error.message || error.name}`, true);
    cameraButton.disabled = false;
    return;
  }
  video.srcObject = stream;
  cameraButton.textContent = "Stop camera";  // the camera is held from here on: the button lets it go
  cameraButton.disabled = false;
  const held = stream;
  await video.play().catch(() => {});
  if (stream !== held) return;  // stopped meanwhile
  $("stage-hint").hidden = true;
  // A camera unplugged, or taken by another application, ends its track: the frozen last frame is not sent on.
  held.getVideoTracks().forEach((track) => track.addEventListener("ended", () => {
    if (stream !== held) return;  // a camera let go before
    showStatus("camera stopped: unplugged, or taken by another application", true);
    stop();
  }));
  reconnects = 0;
  connect();
}

// Opens the stream; one the server closes after it was open (a restart, a full server's 1013) is opened again a few
// times, the camera kept; one never opened (refused) lets the camera go, saying why it may be.
function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const opened = new WebSocket(`${scheme}//${location.host}/v1/stream`);
  const retrying = reconnects > 0;  // the stream was open before: a failed try is retried, not a refusal
  let wasOpen = false, timedOut = false;
  socket = opened;
  opened.binaryType = "arraybuffer";
  connectTimer = setTimeout(() => {
    if (opened.readyState === WebSocket.CONNECTING) { timedOut = true; opened.close(); }
  }, CONNECT_TIMEOUT);
  opened.onopen = () => {
    clearTimeout(connectTimer);
    wasOpen = true;
    running = true;
    inFlight = false;
    errorReplies = 0;
    repliesSinceOpen = 0;
    announce("live stream started");
    schedule(0);
  };
  opened.onmessage = (event) => {
    let reply;
    try {
      reply = JSON.parse(event.data);
    } catch (error) {
      // Not the server's JSON (a proxy's page?): said so, and the next frame is sent rather than waited for.
      inFlight = false;
      clearTimeout(replyTimer);
      showStatus(`the server's reply could not be read (${error.message})`, true);
      schedule(1000);
      return;
    }
    onReply(reply);
  };
  opened.onclose = (event) => {
    if (socket !== opened) return;
    clearTimeout(connectTimer);
    const reason = timedOut ? ` (it did not open within ${CONNECT_TIMEOUT / 1000} s)`
      : event.reason ? `: ${event.reason}`
      : retrying && !wasOpen ? `: it could not be reopened (code ${event.code})`
      : CLOSE_CODES[event.code] ? `: ${CLOSE_CODES[event.code]} (code ${event.code})` : ` (code ${event.code})`;
    if ((wasOpen || retrying) && event.code !== 1008 && reconnects < RECONNECTS) {
      const delay = 1000 * 2 ** reconnects++;
      running = false;
      clearTimers();
      overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
      showStatus(`stream closed${reason}; reconnecting in ${delay / 1000} s (try ${reconnects} of ${RECONNECTS})`, true);
      reconnectTimer = setTimeout(connect, delay);
      return;
    }
    showStatus(wasOpen || retrying ? `stream closed${reason}${retrying ? ` after ${reconnects} tries to reopen it` : ""}`
      : timedOut ? `the live stream did not open within ${CONNECT_TIMEOUT / 1000} s (a proxy without WebSocket support?)`
      : "the server refused the live stream: it may be full, or this page's address is not its own (a page reached by a domain name or through a proxy needs the server started with --allow-origin for it)", true);
    stop();
  };
}

function clearTimers() {
  clearTimeout(tickTimer);
  clearTimeout(replyTimer);
  clearTimeout(reconnectTimer);
  clearTimeout(connectTimer);
}

// The next frame in `delay` ms; one pending at a time.
function schedule(delay) {
  clearTimeout(tickTimer);
  tickTimer = setTimeout(tick, delay);
}

function stop() {
  running = false;
  inFlight = false;
  clearTimers();
  if (socket) { socket.onclose = null; socket.close(); socket = null; }
  if (stream) { stream.getTracks().forEach((track) => track.stop()); stream = null; }
  video.srcObject = null;
  cameraButton.textContent = "Start camera";
  cameraButton.disabled = false;
  stats.textContent = "stopped";
  overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
}

// Sends the next frame once the previous reply has arrived (`onReply` schedules it), at most MAX_FPS per second.
function tick() {
  if (!running || inFlight) return;
  const wait = 1000 / MAX_FPS - (performance.now() - lastSent);
  if (wait > 0 || !video.videoWidth) { schedule(Math.max(wait, 10)); return; }
  const scale = Math.min(1, FRAME_WIDTH / video.videoWidth);
  grabber.width = Math.round(video.videoWidth * scale);
  grabber.height = Math.round(video.videoHeight * scale);
  grabber.getContext("2d").drawImage(video, 0, 0, grabber.width, grabber.height);
  inFlight = true;
  lastSent = performance.now();
  const target = socket;  // a frame grabbed before a reconnection is not sent on the new stream beside its own
  grabber.toBlob((blob) => {
    if (socket !== target) return;
    if (!running || !socket || socket.readyState !== WebSocket.OPEN || !blob) { inFlight = false; schedule(50); return; }
    sentAt = performance.now();
    socket.send(blob);
    // A network that died without closing (a laptop asleep, a server powered off) answers nothing, ever.
    clearTimeout(replyTimer);
    replyTimer = setTimeout(() => {
      if (!running || !inFlight) return;
      showStatus(`no reply from the server for ${REPLY_TIMEOUT / 1000} s: the network or the server is down; press Start camera to try again`, true);
      stop();
    }, REPLY_TIMEOUT);
  }, "image/jpeg", JPEG_QUALITY);
}

function onReply(reply) {
  inFlight = false;
  clearTimeout(replyTimer);
  // A reopened stream that keeps analysing has its tries back (one that answers a few frames, or only errors, and
  // closes does not).
  if (!reply.error && ++repliesSinceOpen >= STEADY_REPLIES) reconnects = 0;
  const now = performance.now();
  replies.push(now);
  while (replies.length && now - replies[0] > 2000) replies.shift();
  if (reply.error) {
    showStatus(`frame ${reply.frame ?? "?"}: ${reply.error.message}`, true, reply.error.message);
    overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);  // the boxes of a frame long gone
  } else {
    lastReply = reply;
    droppedTotal += reply.dropped || 0;
    drawOverlay(reply);
    pushHistory(reply);
    drawChart();
    describe(reply);
  }
  const fps = replies.length > 1 ? (replies.length - 1) / ((replies[replies.length - 1] - replies[0]) / 1000) : 0;
  stats.textContent = `${fps.toFixed(1)} frames/s · round trip ${Math.round(now - sentAt)} ms · analysis ${reply.milliseconds ?? "-"} ms · dropped ${droppedTotal}`;
  // After error replies (an overloaded server) the next frame waits, longer after each: 0.25 s doubling to 8 s.
  errorReplies = reply.error ? errorReplies + 1 : 0;
  schedule(errorReplies ? Math.min(8000, 125 * 2 ** errorReplies) : 0);
}

function describe(reply) {
  const faces = reply.faces || [];
  const top = faces[0];
  status.classList.remove("error");
  status.textContent = faces.length
    ? faces.map((face) => `#${face.track} ${face.emotion} ${Math.round(face.confidence * 100)}%`).join(" · ")
    : "no face in view";
  status.dataset.faces = String(faces.length);
  status.dataset.emotion = top ? top.emotion : "";
  document.body.dataset.faces = String(faces.length);
  document.body.dataset.emotion = top ? top.emotion : "";
  document.body.dataset.frames = String(reply.frame);
}

// `spoken` is what a screen reader hears of an error (without a frame number that changes every frame).
function showStatus(text, isError, spoken = text) {
  status.textContent = text;
  status.classList.toggle("error", !!isError);
  if (isError) announce(spoken);
}

// Read out by screen readers (the status line changes too often to be a live region).
function announce(text) {
  if (announcer.textContent !== text) announcer.textContent = text;  // a repeated error is not read out again
}

// Boxes, labels and one bar per emotion over the video, in the frame's pixel coordinates scaled to the display.
function drawOverlay(reply) {
  const rect = overlay.getBoundingClientRect();
  overlay.width = Math.round(rect.width * devicePixelRatio);
  overlay.height = Math.round(rect.height * devicePixelRatio);
  const context = overlay.getContext("2d");
  context.clearRect(0, 0, overlay.width, overlay.height);
  const scale = overlay.width / reply.width;
  drawFaces(context, reply.faces || [], scale, Math.max(1, devicePixelRatio));
}

function drawFaces(context, faces, scale, pixelRatio) {
  for (const face of faces) {
    const color = COLORS[face.emotion] || "#fff";
    const x = face.box.x * scale, y = face.box.y * scale, w = face.box.width * scale, h = face.box.height * scale;
    const unit = Math.max(1, pixelRatio * Math.min(2, Math.max(1, w / 160)));
    context.lineWidth = 3 * unit;
    context.strokeStyle = color;
    context.strokeRect(x, y, w, h);
    const label = `${face.emotion} ${Math.round(face.confidence * 100)}%`;
    context.font = `600 ${Math.round(14 * unit)}px system-ui, sans-serif`;
    const labelHeight = 20 * unit, labelWidth = context.measureText(label).width + 10 * unit;
    const labelY = y - labelHeight >= 0 ? y - labelHeight : y;
    context.fillStyle = color;
    context.fillRect(x - context.lineWidth / 2, labelY, labelWidth, labelHeight);
    context.fillStyle = face.emotion === "sad" || face.emotion === "angry" || face.emotion === "fear" ? "#fff" : "#111";
    context.textBaseline = "middle";
    context.fillText(label, x + 5 * unit - context.lineWidth / 2, labelY + labelHeight / 2);
    drawBars(context, face, x, y, w, unit);
  }
}

function drawBars(context, face, x, y, w, unit) {
  const rowHeight = 14 * unit, barWidth = 70 * unit, textWidth = 56 * unit, panelWidth = textWidth + barWidth + 12 * unit;
  const panelHeight = labels.length * rowHeight + 8 * unit;
  let panelX = x + w + 6 * unit;
  if (panelX + panelWidth > context.canvas.width) panelX = Math.max(0, x - panelWidth - 6 * unit);
  const panelY = Math.min(Math.max(0, y), Math.max(0, context.canvas.height - panelHeight));
  context.fillStyle = "rgba(0,0,0,0.6)";
  context.fillRect(panelX, panelY, panelWidth, panelHeight);
  context.font = `${Math.round(11 * unit)}px system-ui, sans-serif`;
  context.textBaseline = "middle";
  labels.forEach((name, row) => {
    const value = face.probabilities[name] || 0;
    const rowY = panelY + 4 * unit + row * rowHeight;
    context.fillStyle = "#ddd";
    context.fillText(name, panelX + 4 * unit, rowY + rowHeight / 2);
    context.fillStyle = "rgba(255,255,255,0.15)";
    context.fillRect(panelX + textWidth, rowY + 3 * unit, barWidth, rowHeight - 6 * unit);
    context.fillStyle = COLORS[name] || "#fff";
    context.fillRect(panelX + textWidth, rowY + 3 * unit, barWidth * value, rowHeight - 6 * unit);
  });
}

// ---- Rolling chart -------------------------------------------------------------------------------------------

function pushHistory(reply) {
  const face = (reply.faces || [])[0];
  history.push(face ? labels.map((name) => face.probabilities[name] || 0) : null);
  while (history.length > CHART_POINTS) history.shift();
}

function drawChart() {
  const width = chart.width = Math.round(chart.clientWidth * devicePixelRatio) || chart.width;
  const height = chart.height = Math.round(chart.clientHeight * devicePixelRatio) || chart.height;
  const context = chart.getContext("2d");
  context.clearRect(0, 0, width, height);
  context.strokeStyle = "rgba(255,255,255,0.08)";
  context.lineWidth = 1;
  for (const level of [0.25, 0.5, 0.75]) {
    context.beginPath();
    context.moveTo(0, height * (1 - level));
    context.lineTo(width, height * (1 - level));
    context.stroke();
  }
  const step = width / (CHART_POINTS - 1);
  const offset = CHART_POINTS - history.length;
  context.lineWidth = 2 * devicePixelRatio;
  labels.forEach((name, index) => {
    context.strokeStyle = COLORS[name] || "#fff";
    context.beginPath();
    let drawing = false;
    history.forEach((sample, position) => {
      if (!sample) { drawing = false; return; }
      const px = (offset + position) * step, py = height - sample[index] * (height - 4) - 2;
      if (drawing) context.lineTo(px, py); else context.moveTo(px, py);
      drawing = true;
    });
    context.stroke();
  });
}

// ---- Photo upload --------------------------------------------------------------------------------------------

const dropZone = $("drop-zone"), fileInput = $("file-input"), photo = $("photo"), photoStatus = $("photo-status");
["dragenter", "dragover"].forEach((type) => dropZone.addEventListener(type, (event) => {
  event.preventDefault();
  dropZone.classList.add("over");
}));
["dragleave", "drop"].forEach((type) => dropZone.addEventListener(type, () => dropZone.classList.remove("over")));
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  const file = event.dataTransfer.files[0];
  if (file) analyzePhoto(file);
});
fileInput.addEventListener("change", () => { if (fileInput.files[0]) analyzePhoto(fileInput.files[0]); });

async function analyzePhoto(file) {
  const request = ++photoRequests;  // a later photo's answer replaces this one's; an earlier one is ignored
  photoStatus.classList.remove("error");
  photoStatus.textContent = `analysing ${file.name}…`;
  try {
    // A form: the server reads the file's type from its bytes when the browser knows none for its name.
    const form = new FormData();
    form.append("file", file, file.name);
    const response = await fetch("/v1/analyze", { method: "POST", body: form });
    // A proxy's error page (nginx's 413, a 502) is HTML, not the server's JSON.
    const isJSON = (response.headers.get("content-type") || "").includes("json");
    const result = isJSON ? await response.json() : null;
    if (request !== photoRequests) return;
    if (!response.ok || !result) {
      throw new Error(result && result.error ? result.error.message
        : `HTTP ${response.status}${response.statusText ? " " + response.statusText : ""}${response.status === 413 ? " (the photo is larger than the server or a proxy before it accepts)" : ""}`);
    }
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    if (request !== photoRequests) { bitmap.close(); return; }
    photo.width = result.width;
    photo.height = result.height;
    const context = photo.getContext("2d");
    context.drawImage(bitmap, 0, 0, result.width, result.height);
    bitmap.close();  // the decoded photo, tens of megabytes, is not kept until garbage collection
    drawFaces(context, result.faces, 1, Math.max(1, Math.max(result.width, result.height) / 800));
    photoStatus.textContent = result.faces.length
      ? `${result.faces.length} face${result.faces.length === 1 ? "" : "s"}: ` + result.faces.map((face) => `${face.emotion} ${Math.round(face.confidence * 100)}%`).join(", ")
      : "no face found";
    photoStatus.dataset.faces = String(result.faces.length);
  } catch (error) {
    if (request !== photoRequests) return;
    photoStatus.classList.add("error");
    photoStatus.textContent = `${file.name}: ${error.message}`;
  }
}

if (new URLSearchParams(location.search).get("camera") === "1") start();
