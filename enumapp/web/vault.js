// The device keys, in IndexedDB only. Every key is sealed with AES-256-GCM
// under a wrapping key: without a PIN a random non-extractable AES key
// kept in IndexedDB beside them (script can use it, never read it); with a
// PIN one derived from the PIN with PBKDF2-SHA-256, never stored. A wrong
// PIN is counted before it is checked; after the chosen number (3, 5 or 10)
// in a row every account and the PIN are wiped, as in `enum pin`.

const DB = "enum-app";
const STORE = "kv";
const RECORD = "vault";
export const PBKDF2_ITERATIONS = 600000;
export const WIPE_CHOICES = [3, 5, 10];
const CHECK = "enum-pin-check-v1";
const enc = new TextEncoder();

function idb(mode, f) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(STORE, mode);
      let out;
      const req = f(tx.objectStore(STORE));
      if (req) req.onsuccess = () => (out = req.result);
      tx.oncomplete = () => {
        db.close();
        resolve(out);
      };
      tx.onerror = tx.onabort = () => {
        db.close();
        reject(tx.error);
      };
    };
  });
}

const newWrapKey = () => crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);

async function pinKey(pin, salt, iterations) {
  const base = await crypto.subtle.importKey("raw", enc.encode(pin), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "PBKDF2", salt, iterations, hash: "SHA-256" }, base,
    { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

async function seal(key, plain, aad) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad }, key, plain));
  const out = new Uint8Array(12 + ct.length);
  out.set(iv);
  out.set(ct, 12);
  return out;
}

async function unseal(key, sealed, aad) {
  return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: sealed.slice(0, 12), additionalData: aad }, key, sealed.slice(12)));
}

const aadOf = (a) => enc.encode("enum-key-v1\0" + a.issuer + "\0" + a.account + "\0" + a.suite);
const idOf = (issuer, account) => issuer + "\0" + account;

/** PinError is a wrong PIN: left tries, or wiped. */
export class PinError extends Error {
  constructor(left, wiped) {
    super(wiped ? "wiped" : "wrong PIN");
    this.left = left;
    this.wiped = wiped;
  }
}

/** checkPIN validates a new PIN: 4 to 64 characters, no control characters. */
export function checkPIN(pin) {
  if (pin.length < 4) return "pin.short";
  if (enc.encode(pin).length > 64) return "pin.long";
  if (/\p{Cc}/u.test(pin)) return "pin.control";
  return "";
}

export class Vault {
  constructor(rec) {
    this.rec = rec;
    this.key = rec.pin ? null : rec.wrap; // the wrapping key, once unlocked
  }

  /** open loads the vault, creating an empty one the first time. */
  static async open() {
    let rec = await idb("readonly", (s) => s.get(RECORD));
    if (!rec) {
      rec = { version: 1, wrap: await newWrapKey(), pin: null, accounts: [] };
      await idb("readwrite", (s) => s.put(rec, RECORD));
    }
    return new Vault(rec);
  }

  save() {
    return idb("readwrite", (s) => s.put(this.rec, RECORD));
  }

  get hasPIN() { return !!this.rec.pin; }
  get locked() { return !this.key; }
  get wipeAfter() { return this.rec.pin ? this.rec.pin.max : 5; }
  get triesLeft() { return this.rec.pin ? this.rec.pin.max - this.rec.pin.failures : 0; }

  /** accounts lists the accounts, without keys. */
  get accounts() {
    return this.rec.accounts.map((a) => ({ id: idOf(a.issuer, a.account), issuer: a.issuer, account: a.account, suite: a.suite }));
  }

  /** unlock opens the vault with pin, or throws PinError. */
  async unlock(pin) {
    const p = this.rec.pin;
    if (!p) return;
    p.failures++;
    await this.save(); // counted before it is checked
    const key = await pinKey(pin, p.salt, p.iterations);
    try {
      const plain = await unseal(key, p.check, enc.encode(CHECK));
      if (new TextDecoder().decode(plain) !== CHECK) throw new Error("check");
    } catch {
      if (p.failures >= p.max) {
        await this.wipe();
        throw new PinError(0, true);
      }
      throw new PinError(p.max - p.failures, false);
    }
    p.failures = 0;
    await this.save();
    this.key = key;
  }

  lock() {
    if (this.rec.pin) this.key = null;
  }

  /** add stores an enrolment ({issuer, account, suite, key}), replacing the same issuer and account. */
  async add(e) {
    if (this.locked) throw new Error("locked");
    const a = { issuer: e.issuer, account: e.account, suite: e.suite };
    a.sealed = await seal(this.key, e.key, aadOf(a));
    const i = this.rec.accounts.findIndex((x) => x.issuer === a.issuer && x.account === a.account);
    if (i >= 0) this.rec.accounts[i] = a;
    else this.rec.accounts.push(a);
    this.rec.accounts.sort((x, y) => (x.issuer + "\0" + x.account < y.issuer + "\0" + y.account ? -1 : 1));
    await this.save();
    return i >= 0;
  }

  /** remove unlinks an account: its key is deleted from the device. */
  async remove(id) {
    this.rec.accounts = this.rec.accounts.filter((a) => idOf(a.issuer, a.account) !== id);
    await this.save();
  }

  /** rawKey returns an account's key; the caller clears it after use. */
  async rawKey(id) {
    if (this.locked) throw new Error("locked");
    const a = this.rec.accounts.find((x) => idOf(x.issuer, x.account) === id);
    if (!a) throw new Error("no such account");
    return unseal(this.key, a.sealed, aadOf(a));
  }

  async reseal(newKey) {
    const out = [];
    for (const a of this.rec.accounts) {
      const raw = await unseal(this.key, a.sealed, aadOf(a));
      out.push({ issuer: a.issuer, account: a.account, suite: a.suite, sealed: await seal(newKey, raw, aadOf(a)) });
      raw.fill(0);
    }
    return out;
  }

  /** setPIN sets or changes the PIN (the vault must be unlocked). */
  async setPIN(pin, max) {
    if (this.locked) throw new Error("locked");
    if (!WIPE_CHOICES.includes(max)) throw new Error("wipe after 3, 5 or 10");
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const key = await pinKey(pin, salt, PBKDF2_ITERATIONS);
    const accounts = await this.reseal(key);
    const check = await seal(key, enc.encode(CHECK), enc.encode(CHECK));
    this.rec = { version: 1, wrap: null, pin: { kdf: "PBKDF2-SHA-256", iterations: PBKDF2_ITERATIONS, salt, check, max, failures: 0 }, accounts };
    await this.save();
    this.key = key;
  }

  /** removePIN keeps the keys without a PIN (the vault must be unlocked). */
  async removePIN() {
    if (this.locked) throw new Error("locked");
    const wrap = await newWrapKey();
    const accounts = await this.reseal(wrap);
    this.rec = { version: 1, wrap, pin: null, accounts };
    await this.save();
    this.key = wrap;
  }

  /** wipe forgets every account and the PIN. */
  async wipe() {
    this.rec = { version: 1, wrap: await newWrapKey(), pin: null, accounts: [] };
    await this.save();
    this.key = this.rec.wrap;
  }
}
