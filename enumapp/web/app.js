// The E-num app: enrol, answer, PIN. No framework, no build step.
import * as ocra from "./ocra.js";
import { Vault, PinError, checkPIN, WIPE_CHOICES } from "./vault.js";

const T = {
  en: {
    title: "E-num", loading: "Loading…", other: "Русский",
    "lock.title": "Enter your PIN", "lock.pin": "PIN", "lock.unlock": "Unlock",
    "lock.left": "Wrong PIN. {n} more wrong PINs and every account on this device is wiped.",
    "lock.wiped": "Wrong PIN too many times: every account and the PIN were wiped. Enrol again.",
    "answer.title": "Answer a question", "answer.none": "Add an account first (below).", "answer.account": "Account",
    "answer.question": "Question number or enum: link",
    "answer.hint": "Spaces and dashes are ignored. For a transfer also give the payee and the amount shown with the question, or scan its QR code.",
    "answer.purse": "Payee (purse or account)", "answer.amount": "Amount", "answer.go": "Answer",
    "answer.pair": "Give both the payee and the amount, or neither.",
    "answer.empty": "Type the question number or scan its QR code.",
    "scan.camera": "Scan QR code", "scan.file": "QR code image…", "scan.title": "Point the camera at the QR code", "scan.stop": "Close",
    "scan.none": "No QR code found in this image.", "scan.nocamera": "No camera available: choose a QR code image instead.",
    "scan.unknown": "This QR code is neither an E-num question nor an enrolment.",
    "confirm.title": "You are confirming", "confirm.amount": "Amount", "confirm.payee": "Payee",
    "confirm.check": "Check that this is what the bank's page shows. Give the answer only if it is.",
    "confirm.yes": "Yes, show the answer", "confirm.no": "Cancel",
    "confirm.payment": "A payment", "confirm.login": "A login or an operation (no amount)",
    "confirm.account": "Account: {a}",
    "result.title": "Your answer", "result.copy": "Copy", "result.done": "Done", "result.copied": "Copied.",
    "result.what": "Type it on the bank's page. It confirms only what is shown above.",
    "accounts.title": "Accounts", "accounts.empty": "No account on this device yet.", "accounts.unlink": "Unlink",
    "accounts.confirm": "Unlink {a}? Its key is deleted from this device. Press again to unlink.", "accounts.really": "Unlink now", "accounts.unlinked": "Unlinked {a}.",
    "enroll.title": "Add an account", "enroll.uri": "Enrolment link (enumgate://enroll?…)",
    "enroll.hint": "Scan the bank's enrolment QR code or paste its link. The key stays on this device.",
    "enroll.add": "Add", "enroll.added": "Added {a}.", "enroll.replaced": "Replaced the key of {a}.",
    "pin.title": "PIN", "pin.new": "New PIN", "pin.repeat": "Repeat the new PIN",
    "pin.wipe": "Wipe every account after this many wrong PINs", "pin.set": "Set PIN", "pin.change": "Change PIN",
    "pin.remove": "Remove PIN", "pin.lock": "Lock now", "pin.none": "No PIN: anyone with this browser can answer.",
    "pin.on": "PIN set. Every account is wiped after {n} wrong PINs in a row.",
    "pin.short": "The PIN must have at least 4 characters.", "pin.long": "The PIN must have at most 64 bytes.",
    "pin.control": "The PIN must not contain control characters.", "pin.differ": "The two PINs differ.",
    "pin.done": "PIN set.", "pin.removed": "PIN removed.",
    foot: "Keys are kept only on this device, in this browser. Works offline.",
    "err.generic": "Something went wrong: {m}",
    "err.insecure": "This page is not a secure context (HTTPS or localhost), so the browser gives it no cryptography. Open the app over HTTPS.",
  },
  ru: {
    title: "E-num", loading: "Загрузка…", other: "English",
    "lock.title": "Введите PIN-код", "lock.pin": "PIN-код", "lock.unlock": "Открыть",
    "lock.left": "Неверный PIN-код. Ещё {n} неверных — и все учётные записи на этом устройстве будут стёрты.",
    "lock.wiped": "Слишком много неверных PIN-кодов: все учётные записи и PIN-код стёрты. Подключите устройство заново.",
    "answer.title": "Ответ на вопрос", "answer.none": "Сначала добавьте учётную запись (ниже).", "answer.account": "Учётная запись",
    "answer.question": "Число-вопрос или ссылка enum:",
    "answer.hint": "Пробелы и дефисы не важны. Для перевода укажите также получателя и сумму, показанные рядом с вопросом, или отсканируйте QR-код.",
    "answer.purse": "Получатель (кошелёк или счёт)", "answer.amount": "Сумма", "answer.go": "Получить ответ",
    "answer.pair": "Укажите и получателя, и сумму — или ни то, ни другое.",
    "answer.empty": "Введите число-вопрос или отсканируйте его QR-код.",
    "scan.camera": "Сканировать QR-код", "scan.file": "Изображение QR-кода…", "scan.title": "Наведите камеру на QR-код", "scan.stop": "Закрыть",
    "scan.none": "На изображении не найден QR-код.", "scan.nocamera": "Камера недоступна: выберите изображение QR-кода.",
    "scan.unknown": "Этот QR-код — не вопрос E-num и не подключение.",
    "confirm.title": "Вы подтверждаете", "confirm.amount": "Сумма", "confirm.payee": "Получатель",
    "confirm.check": "Убедитесь, что это же показано на странице банка. Давайте ответ, только если это так.",
    "confirm.yes": "Да, показать ответ", "confirm.no": "Отмена",
    "confirm.payment": "Платёж", "confirm.login": "Вход или операция (без суммы)",
    "confirm.account": "Учётная запись: {a}",
    "result.title": "Ваш ответ", "result.copy": "Копировать", "result.done": "Готово", "result.copied": "Скопировано.",
    "result.what": "Введите его на странице банка. Он подтверждает только то, что показано выше.",
    "accounts.title": "Учётные записи", "accounts.empty": "На этом устройстве пока нет учётных записей.", "accounts.unlink": "Отвязать",
    "accounts.confirm": "Отвязать {a}? Ключ будет удалён с этого устройства. Нажмите ещё раз, чтобы отвязать.", "accounts.really": "Отвязать сейчас", "accounts.unlinked": "{a} отвязана.",
    "enroll.title": "Добавить учётную запись", "enroll.uri": "Ссылка подключения (enumgate://enroll?…)",
    "enroll.hint": "Отсканируйте QR-код подключения из банка или вставьте ссылку. Ключ остаётся на этом устройстве.",
    "enroll.add": "Добавить", "enroll.added": "Добавлена {a}.", "enroll.replaced": "Ключ {a} заменён.",
    "pin.title": "PIN-код", "pin.new": "Новый PIN-код", "pin.repeat": "Повторите новый PIN-код",
    "pin.wipe": "Стереть все учётные записи после стольких неверных PIN-кодов", "pin.set": "Установить PIN-код", "pin.change": "Сменить PIN-код",
    "pin.remove": "Убрать PIN-код", "pin.lock": "Заблокировать", "pin.none": "PIN-кода нет: ответить может любой, у кого этот браузер.",
    "pin.on": "PIN-код установлен. После {n} неверных подряд все учётные записи стираются.",
    "pin.short": "PIN-код — не короче 4 символов.", "pin.long": "PIN-код — не длиннее 64 байт.",
    "pin.control": "PIN-код не должен содержать управляющих символов.", "pin.differ": "PIN-коды не совпадают.",
    "pin.done": "PIN-код установлен.", "pin.removed": "PIN-код убран.",
    foot: "Ключи хранятся только на этом устройстве, в этом браузере. Работает без сети.",
    "err.generic": "Ошибка: {m}",
    "err.insecure": "Страница открыта не в защищённом контексте (HTTPS или localhost), и браузер не даёт ей криптографии. Откройте приложение по HTTPS.",
  },
};

const $ = (id) => document.getElementById(id);
let lang = "en";
let vault = null;
let pending = null; // what is about to be confirmed

function t(key, vars = {}) {
  const s = T[lang][key] ?? T.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k]));
}

function applyLang() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  const other = lang === "en" ? "ru" : "en";
  $("lang").textContent = t("other"); // the other language's name
  $("lang").lang = other;
  render();
}

function chooseLang() {
  let l = "";
  try { l = localStorage.getItem("enum-lang") || ""; } catch { /* storage may be off */ }
  if (!T[l]) l = (navigator.languages || [navigator.language]).some((x) => /^ru\b/i.test(x)) ? "ru" : "en";
  return l;
}

function say(msg) {
  $("alert").hidden = true;
  $("status").textContent = msg;
}

function alertMsg(msg) {
  $("status").textContent = "";
  $("alert").textContent = msg;
  $("alert").hidden = false;
}

function errText(e) {
  return e instanceof ocra.OcraError ? e.message : t("err.generic", { m: e && e.message ? e.message : String(e) });
}

const nameOf = (a) => a.issuer + ": " + a.account;

function render() {
  if (!vault) return;
  $("loading").hidden = true;
  $("lock").hidden = !vault.locked;
  $("home").hidden = vault.locked;
  if (vault.locked) {
    $("unlock-left").textContent = "";
    return;
  }
  const accts = vault.accounts;
  const list = $("accounts");
  list.replaceChildren();
  for (const a of accts) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = nameOf(a);
    const suite = document.createElement("span");
    suite.className = "suite";
    suite.textContent = a.suite;
    name.append(suite);
    const b = document.createElement("button");
    b.type = "button";
    b.className = "danger unlink";
    b.textContent = t("accounts.unlink");
    b.setAttribute("aria-label", t("accounts.unlink") + " " + nameOf(a));
    b.dataset.id = a.id;
    li.append(name, b);
    list.append(li);
  }
  $("accounts-empty").hidden = accts.length > 0;
  $("no-accounts").hidden = accts.length > 0;
  const sel = $("account");
  const keep = sel.value;
  sel.replaceChildren(...accts.map((a) => new Option(nameOf(a), a.id)));
  if (accts.some((a) => a.id === keep)) sel.value = keep;
  $("account-row").hidden = accts.length < 2;
  $("pin-state").textContent = vault.hasPIN ? t("pin.on", { n: vault.wipeAfter }) : t("pin.none");
  $("set-pin").textContent = t(vault.hasPIN ? "pin.change" : "pin.set");
  $("remove-pin").hidden = !vault.hasPIN;
  $("lock-now").hidden = !vault.hasPIN;
  if (vault.hasPIN) $("wipe-after").value = String(vault.wipeAfter);
}

function showOnly(section) {
  for (const id of ["confirm", "result"]) $(id).hidden = id !== section;
}

// A question to confirm: from a URI or typed.
async function ask(q) {
  const accts = vault.accounts;
  if (accts.length === 0) {
    alertMsg(t("answer.none"));
    return;
  }
  const account = accts.find((a) => a.id === $("account").value) || accts[0];
  const suite = ocra.parseSuite(account.suite);
  const input = { question: q.challenge };
  if (suite.step) input.timestamp = ocra.timeSteps(suite, Date.now());
  if (suite.counter || suite.pin || suite.session) {
    throw new ocra.OcraError("suite", account.suite + " needs a counter, a PIN or session information; use enum ocra");
  }
  let pay = null;
  if (q.mode === "payment") {
    pay = await ocra.preparePayment(q.purse, q.amount);
    ocra.paymentSuite(suite);
  }
  ocra.parseSuite(suite.str);
  pending = { account, suite, input, q, pay };
  $("confirm-what").textContent = t(q.mode === "payment" ? "confirm.payment" : "confirm.login");
  $("confirm-payment").hidden = q.mode !== "payment";
  $("confirm-amount").textContent = q.amount;
  $("confirm-payee").textContent = q.purse;
  $("confirm-account").textContent = t("confirm.account", { a: nameOf(account) });
  $("alert").hidden = true;
  showOnly("confirm");
  $("confirm").scrollIntoView({ block: "start" });
  $("show-answer").focus();
}

async function showAnswer() {
  const p = pending;
  if (!p) return;
  const raw = await vault.rawKey(p.account.id);
  let a;
  try {
    const key = await ocra.importKey(p.suite, raw);
    if (p.pay) a = await ocra.compute(ocra.paymentSuite(p.suite), key, { ...p.input, session: p.pay.session });
    else a = await ocra.compute(p.suite, key, p.input);
  } finally {
    raw.fill(0);
  }
  pending = null;
  $("answer").textContent = ocra.groupAnswer(a);
  $("answer").dataset.answer = a;
  const what = p.q.mode === "payment" ? t("confirm.payment") + ": " + p.q.amount + " → " + p.q.purse : t("confirm.login");
  $("result-what").textContent = what + ". " + t("result.what");
  showOnly("result");
  $("copy").focus();
}

function questionFromForm() {
  const text = $("question").value.trim();
  if (text === "") throw new ocra.OcraError("question", t("answer.empty"));
  if (text.includes(":")) return ocra.parseQuestionURI(text);
  const purse = $("purse").value.trim();
  const amount = $("amount").value.trim();
  if (!!purse !== !!amount) throw new ocra.OcraError("payment", t("answer.pair"));
  const q = { mode: purse ? "payment" : "login", challenge: ocra.stripQuestion(text), purse, amount };
  if (purse) {
    ocra.normalizePurse(purse);
    ocra.normalizeAmount(amount);
  }
  return q;
}

async function enrol(uri) {
  const e = ocra.parseEnrollURI(uri.trim());
  const replaced = await vault.add(e);
  e.key.fill(0);
  $("enroll-uri").value = "";
  render();
  say(t(replaced ? "enroll.replaced" : "enroll.added", { a: nameOf(e) }));
}

// scanned handles the text of a QR code: a question or an enrolment.
async function scanned(text) {
  text = text.trim();
  if (/^enumgate:/i.test(text)) return enrol(text);
  if (/^enum:/i.test(text)) {
    $("question").value = text;
    return ask(ocra.parseQuestionURI(text));
  }
  alertMsg(t("scan.unknown"));
}

// decodeImage finds a QR code in an image (a Blob, a video or a bitmap).
async function decodeImage(source) {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const codes = await new BarcodeDetector({ formats: ["qr_code"] }).detect(source);
        if (codes.length) return codes[0].rawValue;
        if (!(source instanceof Blob)) return "";
      }
    } catch { /* fall back to jsQR */ }
  }
  if (typeof window.jsQR !== "function") return "";
  let img = source;
  if (source instanceof Blob) img = await createImageBitmap(source);
  const w0 = img.videoWidth || img.width;
  const h0 = img.videoHeight || img.height;
  if (!w0 || !h0) return "";
  const scale = Math.min(1, 1200 / Math.max(w0, h0));
  const w = Math.max(1, Math.round(w0 * scale));
  const h = Math.max(1, Math.round(h0 * scale));
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  const g = c.getContext("2d", { willReadFrequently: true });
  g.fillStyle = "#fff";
  g.fillRect(0, 0, w, h);
  g.drawImage(img, 0, 0, w, h);
  const code = window.jsQR(g.getImageData(0, 0, w, h).data, w, h);
  return code ? code.data : "";
}

async function fromFile(input) {
  const f = input.files && input.files[0];
  input.value = "";
  if (!f) return;
  const text = await decodeImage(f);
  if (!text) {
    alertMsg(t("scan.none"));
    return;
  }
  await scanned(text);
}

let stream = null;
async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    alertMsg(t("scan.nocamera"));
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch {
    alertMsg(t("scan.nocamera"));
    return;
  }
  const v = $("video");
  v.srcObject = stream;
  $("scanner").showModal();
  await v.play();
  const tick = async () => {
    if (!stream) return;
    let text = "";
    try { text = await decodeImage(v); } catch { /* next frame */ }
    if (text) {
      stopCamera();
      run(() => scanned(text));
    } else setTimeout(tick, 250);
  };
  tick();
}

function stopCamera() {
  if (stream) for (const tr of stream.getTracks()) tr.stop();
  stream = null;
  $("video").srcObject = null;
  if ($("scanner").open) $("scanner").close();
}

// run runs an action and reports its error.
async function run(f) {
  try {
    await f();
  } catch (e) {
    alertMsg(errText(e));
  }
}

function wire() {
  $("lang").addEventListener("click", () => {
    lang = lang === "en" ? "ru" : "en";
    try { localStorage.setItem("enum-lang", lang); } catch { /* ignore */ }
    applyLang();
  });
  $("unlock-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const pin = $("unlock-pin").value;
    $("unlock-pin").value = "";
    run(async () => {
      try {
        await vault.unlock(pin);
        $("alert").hidden = true;
        render();
      } catch (e) {
        if (!(e instanceof PinError)) throw e;
        render();
        if (e.wiped) alertMsg(t("lock.wiped"));
        else {
          $("unlock-left").textContent = t("lock.left", { n: e.left });
          alertMsg(t("lock.left", { n: e.left }));
          $("unlock-pin").focus();
        }
      }
    });
  });
  $("question-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    run(() => ask(questionFromForm()));
  });
  $("show-answer").addEventListener("click", () => run(showAnswer));
  $("cancel-confirm").addEventListener("click", () => {
    pending = null;
    showOnly("");
    $("question").focus();
  });
  $("copy").addEventListener("click", () => run(async () => {
    await navigator.clipboard.writeText($("answer").dataset.answer || "");
    say(t("result.copied"));
  }));
  $("done").addEventListener("click", () => {
    $("answer").textContent = "";
    delete $("answer").dataset.answer;
    for (const id of ["question", "purse", "amount"]) $(id).value = "";
    showOnly("");
    say("");
  });
  $("accounts").addEventListener("click", (ev) => {
    const b = ev.target.closest("button.unlink");
    if (!b) return;
    const a = vault.accounts.find((x) => x.id === b.dataset.id);
    if (!a) return;
    if (b.dataset.armed !== "true") { // a second press unlinks
      b.dataset.armed = "true";
      b.textContent = t("accounts.really");
      say(t("accounts.confirm", { a: nameOf(a) }));
      return;
    }
    run(async () => {
      await vault.remove(a.id);
      render();
      say(t("accounts.unlinked", { a: nameOf(a) }));
    });
  });
  $("enroll-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    run(() => enrol($("enroll-uri").value));
  });
  for (const id of ["question-file", "enroll-file"]) $(id).addEventListener("change", (ev) => run(() => fromFile(ev.target)));
  for (const id of ["scan-question", "scan-enroll"]) $(id).addEventListener("click", () => run(startCamera));
  $("scan-stop").addEventListener("click", stopCamera);
  $("scanner").addEventListener("close", stopCamera);
  $("pin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const pin = $("new-pin").value;
    const again = $("new-pin2").value;
    run(async () => {
      const bad = checkPIN(pin);
      if (bad) throw new ocra.OcraError("PIN", t(bad));
      if (pin !== again) throw new ocra.OcraError("PIN", t("pin.differ"));
      const max = Number($("wipe-after").value);
      if (!WIPE_CHOICES.includes(max)) throw new ocra.OcraError("PIN", "3, 5, 10");
      await vault.setPIN(pin, max);
      $("new-pin").value = $("new-pin2").value = "";
      render();
      say(t("pin.done"));
    });
  });
  $("remove-pin").addEventListener("click", () => run(async () => {
    await vault.removePIN();
    render();
    say(t("pin.removed"));
  }));
  $("lock-now").addEventListener("click", () => {
    vault.lock();
    showOnly("");
    render();
    $("unlock-pin").focus();
  });
}

async function main() {
  lang = chooseLang();
  wire();
  applyLang();
  if (!window.isSecureContext || !crypto.subtle) {
    $("loading").hidden = true;
    alertMsg(t("err.insecure"));
    return;
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => { /* online only */ });
  }
  vault = await Vault.open();
  render();
  document.body.dataset.ready = "true";
  if (vault.locked) $("unlock-pin").focus();
}

main().catch((e) => alertMsg(errText(e)));
