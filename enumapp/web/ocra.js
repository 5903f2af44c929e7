// OCRA (RFC 6287), the E-num payment mode and the URIs of enumgate, in the
// browser: the same rules as the Go packages challenge/ocra,
// challenge/ocra/payment and challenge/ocra/enroll, checked against the
// same test vectors (challenge/ocra/ocratest/testdata/rfc6287.json and
// challenge/ocra/payment/testdata/vectors.json). HMAC and SHA come from
// WebCrypto; nothing here keeps or logs a key.

export const DEFAULT_SUITE = "OCRA-1:HOTP-SHA256-8:QN08";

const HASHES = { SHA1: ["SHA-1", 20], SHA256: ["SHA-256", 32], SHA512: ["SHA-512", 64] };
const QUESTION_FIELD = 128;
const enc = new TextEncoder();

/** OcraError is every error of this module; field names what is wrong. */
export class OcraError extends Error {
  constructor(field, reason) {
    super(field + ": " + reason);
    this.name = "OcraError";
    this.field = field;
    this.reason = reason;
  }
}

const suiteErr = (reason) => new OcraError("suite", reason);

function smallDecimal(s, maxLen) {
  if (s.length === 0 || s.length > maxLen || (s.length > 1 && s[0] === "0")) return -1;
  return fixedDecimal(s);
}

function fixedDecimal(s) {
  if (s.length === 0 || s.length > 3 || !/^[0-9]+$/.test(s)) return -1;
  return Number(s);
}

/**
 * parseSuite parses an OCRA suite string as ocra.ParseSuite does.
 * @returns {{str:string, hash:string, hashName:string, hashSize:number, digits:number,
 *   qFormat:string, qMax:number, counter:boolean, pin:string, pinSize:number, session:number, step:number}}
 */
export function parseSuite(s) {
  if (typeof s !== "string" || s === "") throw suiteErr("empty suite string");
  if (s.length > 64) throw suiteErr("too long");
  const parts = s.split(":");
  if (parts.length !== 3) throw suiteErr("want three colon-separated parts Algorithm:CryptoFunction:DataInput");
  if (parts[0] !== "OCRA-1") throw suiteErr('unsupported algorithm (want "OCRA-1")');
  const su = { str: s, hash: "", hashName: "", hashSize: 0, digits: 0, qFormat: "", qMax: 0, counter: false, pin: "", pinSize: 0, session: 0, step: 0 };
  const f = parts[1].split("-");
  if (f.length !== 3 || f[0] !== "HOTP") throw suiteErr("CryptoFunction must be HOTP-H-t, e.g. HOTP-SHA256-8");
  if (!Object.hasOwn(HASHES, f[1])) throw suiteErr("unsupported hash function " + JSON.stringify(f[1]));
  [su.hash, su.hashSize] = HASHES[f[1]];
  su.hashName = f[1];
  const d = smallDecimal(f[2], 2);
  if (d < 0 || (d !== 0 && (d < 4 || d > 10))) throw suiteErr("truncation must be 0 or 4 to 10 digits");
  su.digits = d;
  if (parts[2] === "") throw suiteErr("empty DataInput");
  const rank = { C: 1, Q: 2, P: 3, S: 4, T: 5 };
  let last = 0;
  for (const tok of parts[2].split("-")) {
    if (tok === "") throw suiteErr("empty component");
    const r = rank[tok[0]];
    if (!r) throw suiteErr("unknown DataInput component " + JSON.stringify(tok));
    switch (tok[0]) {
      case "C":
        if (tok !== "C") throw suiteErr('counter component must be exactly "C"');
        su.counter = true;
        break;
      case "Q": {
        const n = tok.length === 4 ? fixedDecimal(tok.slice(2)) : -1;
        if (!"ANH".includes(tok[1] || "x") || n < 4 || n > 64) throw suiteErr("question component must be QFxx");
        su.qFormat = tok[1];
        su.qMax = n;
        break;
      }
      case "P":
        if (!Object.hasOwn(HASHES, tok.slice(1))) throw suiteErr("unsupported PIN hash function");
        su.pin = HASHES[tok.slice(1)][0];
        su.pinSize = HASHES[tok.slice(1)][1];
        break;
      case "S": {
        const n = fixedDecimal(tok.slice(1));
        if (tok.length !== 4 || n < 0) throw suiteErr("session component must be Snnn");
        if (n === 0) throw suiteErr("session length must be at least 1 byte");
        su.session = n;
        break;
      }
      case "T": {
        const n = tok.length >= 3 ? smallDecimal(tok.slice(1, -1), 2) : -1;
        const unit = { S: [1, 59], M: [60, 59], H: [3600, 48] }[tok[tok.length - 1]];
        if (n < 0 || !unit) throw suiteErr("time-step component must be TG, e.g. T1M");
        if (n === 0) throw suiteErr("time-step must not be zero");
        if (n > unit[1]) throw suiteErr("time-step out of range");
        su.step = n * unit[0];
        break;
      }
    }
    if (r === last) throw suiteErr("duplicate component " + tok[0]);
    if (r < last) throw suiteErr("component " + tok[0] + " out of order");
    if (r > 2 && last < 2) throw suiteErr("the question component must come before " + tok[0]);
    last = r;
  }
  if (last < 2) throw suiteErr("missing question component");
  return su;
}

function questionChar(format, c) {
  if (c >= "0" && c <= "9") return true;
  if (format === "A") return (c >= "A" && c <= "Z") || (c >= "a" && c <= "z");
  if (format === "H") return (c >= "A" && c <= "F") || (c >= "a" && c <= "f");
  return false;
}

function check(su, input) {
  const q = input.question;
  if (!q) throw new OcraError("question", "missing");
  for (const c of q) {
    if (!questionChar(su.qFormat, c)) throw new OcraError("question", "wrong format: character " + JSON.stringify(c));
  }
  if (q.length > su.qMax * (input.mutual ? 2 : 1)) throw new OcraError("question", "too long");
  const hasCounter = input.counter !== undefined && input.counter !== null;
  if (su.counter !== hasCounter) throw new OcraError("counter", su.counter ? "missing" : "not used by the suite");
  const hasPIN = !!input.pin || !!input.pinHash;
  if (!!su.pin !== hasPIN) throw new OcraError("pin", su.pin ? "missing" : "not used by the suite");
  if (input.pinHash && input.pinHash.length !== su.pinSize) throw new OcraError("pin hash", "wrong length");
  const sess = input.session ? input.session.length : 0;
  if (su.session !== 0 && sess === 0) throw new OcraError("session", "missing");
  if (su.session === 0 && sess !== 0) throw new OcraError("session", "not used by the suite");
  if (sess !== su.session) throw new OcraError("session", "wrong length");
  const hasT = input.timestamp !== undefined && input.timestamp !== null;
  if ((su.step !== 0) !== hasT) throw new OcraError("timestamp", su.step ? "missing" : "not used by the suite");
}

function uint64(v) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v)));
  return b;
}

function hexToBytes(h) {
  if (h.length % 2) h += "0";
  const b = new Uint8Array(h.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(2 * i, 2), 16);
  return b;
}

/** hex decodes a hexadecimal string (even length). */
export function hex(h) {
  if (!/^([0-9a-fA-F]{2})*$/.test(h)) throw new OcraError("hex", "not hexadecimal");
  return hexToBytes(h);
}

/** toHex encodes bytes as lower-case hexadecimal. */
export function toHex(b) {
  return Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
}

async function digest(alg, data) {
  return new Uint8Array(await crypto.subtle.digest(alg, data));
}

/**
 * dataInput returns the DataInput of RFC 6287 §5.1 for input:
 * {question, mutual?, counter? (BigInt|number), pin?, pinHash? (Uint8Array),
 *  session? (Uint8Array), timestamp? (BigInt|number, time-steps)}.
 */
export async function dataInput(su, input) {
  check(su, input);
  const parts = [enc.encode(su.str), new Uint8Array(1)];
  if (su.counter) parts.push(uint64(input.counter));
  const q = new Uint8Array(QUESTION_FIELD);
  const question = input.question;
  if (su.qFormat === "A") q.set(enc.encode(question));
  else if (su.qFormat === "H") q.set(hexToBytes(question));
  else if (BigInt(question) !== 0n) q.set(hexToBytes(BigInt(question).toString(16)));
  parts.push(q);
  if (su.pin) parts.push(input.pinHash ? input.pinHash : await digest(su.pin, enc.encode(input.pin)));
  if (su.session) parts.push(input.session);
  if (su.step) parts.push(uint64(input.timestamp));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** importKey makes a non-extractable HMAC key of the suite's hash. */
export function importKey(su, raw) {
  if (!raw || raw.length === 0) throw new OcraError("key", "missing");
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: su.hash }, false, ["sign"]);
}

/**
 * compute returns the OCRA response of suite su (from parseSuite) for key
 * (raw bytes or an HMAC CryptoKey of the suite's hash) and input.
 */
export async function compute(su, key, input) {
  const msg = await dataInput(su, input);
  const k = key instanceof CryptoKey ? key : await importKey(su, key);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, msg));
  if (su.digits === 0) return toHex(mac);
  const off = mac[mac.length - 1] & 0x0f;
  const v = (new DataView(mac.buffer).getUint32(off) & 0x7fffffff) % 10 ** su.digits;
  return String(v).padStart(su.digits, "0");
}

/** timeSteps returns the time-steps of the suite at a time (ms since 1970). */
export function timeSteps(su, nowMs) {
  return BigInt(Math.floor(nowMs / 1000 / su.step));
}

// Payment mode (challenge/ocra/payment).

const payErr = (field, reason) => new OcraError(field, reason);

/** normalizePurse is payment.NormalizePurse. */
export function normalizePurse(s) {
  if (s.length > 128) throw payErr("purse", "too long");
  let b = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === " " || c === "-") continue;
    if (c >= "a" && c <= "z") b += c.toUpperCase();
    else if ((c >= "A" && c <= "Z") || (c >= "0" && c <= "9")) b += c;
    else throw payErr("purse", "character " + JSON.stringify(c) + " at position " + (i + 1));
  }
  if (b === "") throw payErr("purse", "empty");
  if (b.length > 64) throw payErr("purse", "too long");
  if (/^[A-Z][0-9]{12}$/.test(b)) b = b.slice(1);
  return b;
}

/** normalizeAmount is payment.NormalizeAmount. */
export function normalizeAmount(s) {
  s = s.replace(/^ +| +$/g, "");
  if (s === "") throw payErr("amount", "empty");
  if (s.length > 30) throw payErr("amount", "too long");
  let sep = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c >= "0" && c <= "9") continue;
    if (c === "." || c === ",") {
      if (sep >= 0) throw payErr("amount", "more than one '.' or ','");
      sep = i;
    } else if (c === "+" || c === "-") throw payErr("amount", "sign at position " + (i + 1));
    else if (c === "e" || c === "E") throw payErr("amount", "exponent at position " + (i + 1));
    else throw payErr("amount", "character " + JSON.stringify(c) + " at position " + (i + 1));
  }
  let int = sep >= 0 ? s.slice(0, sep) : s;
  let frac = sep >= 0 ? s.slice(sep + 1) : "";
  if (int === "") throw payErr("amount", "no digit before the decimal separator");
  int = int.replace(/^0+/, "") || "0";
  frac = frac.replace(/0+$/, "");
  return frac ? int + "." + frac : int;
}

/** paymentSuite is payment.PaymentSuite: S064 inserted before T. */
export function paymentSuite(device) {
  if (device.session !== 0) throw payErr("suite", "device suite " + device.str + " already has session information (S)");
  if (device.counter) throw payErr("suite", "device suite " + device.str + " has a counter (C)");
  const colon = device.str.lastIndexOf(":");
  const parts = device.str.slice(colon + 1).split("-");
  const at = parts[parts.length - 1][0] === "T" ? parts.length - 1 : parts.length;
  parts.splice(at, 0, "S064");
  return parseSuite(device.str.slice(0, colon + 1) + parts.join("-"));
}

/** sessionInfo is payment.SessionInfo: 64 ASCII bytes of hex SHA-256. */
export async function sessionInfo(purse, amount) {
  const msg = enc.encode("enum-payment-v1\0" + purse + "\0" + amount);
  return enc.encode(toHex(await digest("SHA-256", msg)));
}

/** preparePayment normalizes purse and amount and computes the session. */
export async function preparePayment(purse, amount) {
  const p = normalizePurse(purse);
  const a = normalizeAmount(amount);
  return { purse: p, amount: a, session: await sessionInfo(p, a) };
}

/** paymentAnswer is payment.Answer. input has no session. */
export async function paymentAnswer(device, rawKey, input, purse, amount) {
  const pay = await preparePayment(purse, amount);
  const su = paymentSuite(device);
  return compute(su, rawKey, { ...input, session: pay.session });
}

// Question URIs (payment.ParseURI).

/** stripQuestion removes spaces and dashes. */
export function stripQuestion(q) {
  return q.replace(/[ -]/g, "");
}

function unescapeQuery(s, field) {
  try {
    if (/%(?![0-9a-fA-F]{2})/.test(s)) throw new Error();
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    throw new OcraError(field, "bad query: invalid URL escape");
  }
}

// parseQuery is url.ParseQuery: a map of arrays.
function parseQuery(raw, field) {
  const q = new Map();
  if (raw === "") return q;
  for (const part of raw.split("&")) {
    if (part === "") continue;
    if (part.includes(";")) throw new OcraError(field, "bad query: invalid semicolon separator in query");
    const eq = part.indexOf("=");
    const k = unescapeQuery(eq >= 0 ? part.slice(0, eq) : part, field);
    const v = unescapeQuery(eq >= 0 ? part.slice(eq + 1) : "", field);
    if (!q.has(k)) q.set(k, []);
    q.get(k).push(v);
  }
  return q;
}

const uriErr = (reason) => new OcraError("uri", reason);

/**
 * parseQuestionURI is payment.ParseURI: enum:login?challenge=Q,
 * enum:payment?challenge=Q&purse=P&amount=A, enum:l?c=Q, enum:p?c=Q&p=P&a=A.
 * @returns {{mode:"login"|"payment", challenge:string, purse:string, amount:string}}
 */
export function parseQuestionURI(s) {
  if (s.length > 512) throw uriErr("too long");
  const want = "want enum:login?challenge=... or enum:payment?challenge=...&purse=...&amount=...";
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(s);
  if (!m || m[1].toLowerCase() !== "enum") throw uriErr("scheme " + JSON.stringify(m ? m[1].toLowerCase() : "") + ", " + want);
  if (/[\x00-\x1f\x7f]/.test(s)) throw uriErr("not a URI: invalid control character in URL");
  let rest = s.slice(m[0].length);
  if (rest.includes("#")) throw uriErr("unexpected fragment, " + want);
  const qi = rest.indexOf("?");
  const opaque = qi >= 0 ? rest.slice(0, qi) : rest;
  const raw = qi >= 0 ? rest.slice(qi + 1) : "";
  if (opaque.startsWith("/")) throw uriErr('unexpected "//" or "/" after "enum:", ' + want);
  const modes = { login: ["login", ["challenge"]], l: ["login", ["c"]], payment: ["payment", ["challenge", "purse", "amount"]], p: ["payment", ["c", "p", "a"]] };
  const mode = modes[opaque.toLowerCase()];
  if (!mode || !Object.hasOwn(modes, opaque.toLowerCase())) throw uriErr("unknown mode " + JSON.stringify(opaque) + ", " + want);
  if (raw !== "" && ("&" + raw + "&").includes("&&")) throw uriErr("empty query parameter");
  const q = parseQuery(raw, "uri");
  const names = mode[1];
  for (const [k, vs] of q) {
    if (!names.includes(k)) throw uriErr("unknown parameter " + JSON.stringify(k));
    if (vs.length > 1) throw uriErr("parameter " + k + " given " + vs.length + " times");
  }
  for (const k of names) if (!q.has(k)) throw uriErr("missing parameter " + k);
  const out = { mode: mode[0], challenge: stripQuestion(q.get(names[0])[0]), purse: "", amount: "" };
  if (out.challenge === "") throw uriErr("empty challenge");
  if (out.challenge.length > 64) throw uriErr("challenge too long");
  if (!/^[A-Za-z0-9]+$/.test(out.challenge)) throw uriErr("challenge: want ASCII letters and digits");
  if (out.mode === "payment") {
    out.purse = q.get(names[1])[0];
    out.amount = q.get(names[2])[0];
    normalizePurse(out.purse);
    normalizeAmount(out.amount);
  }
  return out;
}

// Enrolment URIs (challenge/ocra/enroll).

const enrollErr = (reason) => new OcraError("enrolment", reason);

/** base32Decode decodes RFC 4648 base32 without padding, canonical only. */
export function base32Decode(s) {
  const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  s = s.toUpperCase();
  if (s.includes("=")) throw enrollErr("secret must be base32 without '=' padding");
  if ([1, 3, 6].includes(s.length % 8)) throw enrollErr("secret is not valid base32: impossible length");
  const out = [];
  let bits = 0;
  let acc = 0;
  for (const c of s) {
    const v = A.indexOf(c);
    if (v < 0) throw enrollErr("secret is not valid base32 (A-Z, 2-7)");
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  if (acc & ((1 << bits) - 1)) throw enrollErr("secret is not canonical base32");
  return new Uint8Array(out);
}

function checkName(field, v, colonOK) {
  if (v === "") throw enrollErr(field + " must not be empty");
  if (enc.encode(v).length > 256) throw enrollErr(field + " too long");
  if (v.trim() !== v) throw enrollErr(field + " must not begin or end with spaces");
  if (!colonOK && v.includes(":")) throw enrollErr(field + " must not contain ':'");
  if (/[\p{Cc}]/u.test(v)) throw enrollErr(field + " must not contain control characters");
}

/**
 * parseEnrollURI is enroll.Parse:
 * enumgate://enroll?secret=BASE32[&suite=SUITE]&issuer=ISSUER&account=ACCOUNT.
 * @returns {{issuer:string, account:string, suite:string, key:Uint8Array}}
 */
export function parseEnrollURI(s) {
  if (s.length > 4096) throw enrollErr("URI too long");
  const want = "want enumgate://enroll?secret=...&issuer=...&account=...";
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(s);
  if (!m || m[1].toLowerCase() !== "enumgate") throw enrollErr("scheme " + JSON.stringify(m ? m[1].toLowerCase() : "") + ", " + want);
  let rest = s.slice(m[0].length);
  if (!rest.startsWith("//")) throw enrollErr('missing "//" after "enumgate:", ' + want);
  if (rest.includes("#")) throw enrollErr("unexpected fragment, " + want);
  rest = rest.slice(2);
  const end = rest.search(/[/?]/);
  const host = end >= 0 ? rest.slice(0, end) : rest;
  rest = end >= 0 ? rest.slice(end) : "";
  if (host.includes("@")) throw enrollErr("unexpected user information, " + want);
  if (host.includes(":")) throw enrollErr("unexpected port, " + want);
  if (host.toLowerCase() !== "enroll") throw enrollErr("host " + JSON.stringify(host) + ", " + want);
  const qi = rest.indexOf("?");
  const path = qi >= 0 ? rest.slice(0, qi) : rest;
  if (path !== "" && path !== "/") throw enrollErr("unexpected path, " + want);
  const q = parseQuery(qi >= 0 ? rest.slice(qi + 1) : "", "enrolment");
  for (const [k, vs] of q) {
    if (!["secret", "suite", "issuer", "account"].includes(k)) throw enrollErr("unknown parameter " + JSON.stringify(k));
    if (vs.length > 1) throw enrollErr("parameter " + k + " given " + vs.length + " times");
  }
  if (!q.has("secret") || q.get("secret")[0] === "") throw enrollErr("missing secret parameter");
  const key = base32Decode(q.get("secret")[0]);
  let suite = DEFAULT_SUITE;
  if (q.has("suite")) {
    suite = q.get("suite")[0];
    if (suite === "") throw enrollErr("empty suite parameter");
  }
  if (!q.has("issuer")) throw enrollErr("missing issuer parameter");
  if (!q.has("account")) throw enrollErr("missing account parameter");
  const issuer = q.get("issuer")[0];
  const account = q.get("account")[0];
  checkName("issuer", issuer, false);
  checkName("account", account, true);
  parseSuite(suite);
  if (key.length < 16 || key.length > 256) throw enrollErr("the key has " + key.length + " bytes, want 16 to 256");
  return { issuer, account, suite, key };
}

/** groupAnswer groups an answer for reading: 9240 5755, 924 057, ... */
export function groupAnswer(a) {
  if (a.length <= 4) return a;
  let size = 4;
  if (a.length % 4 !== 0 && a.length % 3 === 0) size = 3;
  else if (a.length % 4 !== 0 && a.length % 5 === 0) size = 5;
  return a.match(new RegExp(".{1," + size + "}", "g")).join(" ");
}
