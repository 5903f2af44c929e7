// enumgate challenge page: improvements only. Everything works without
// this script: the countdowns are rendered by the server, the forms post
// normally.
(function () {
	"use strict";

	var start = Date.now();
	var sent = 0;

	function clock(s) {
		if (s >= 3600) {
			var m = Math.floor(s / 60) % 60;
			return Math.floor(s / 3600) + ":" + (m < 10 ? "0" : "") + m + ":" + pad(s % 60);
		}
		return Math.floor(s / 60) + ":" + pad(s % 60);
	}
	function pad(n) { return (n < 10 ? "0" : "") + n; }
	function left(el) {
		var s = parseInt(el.getAttribute("data-seconds"), 10) || 0;
		return Math.max(0, s - Math.floor((Date.now() - start) / 1000));
	}
	function byId(id) { return document.getElementById(id); }

	var warned = false, expired = false;

	// The challenge is dead: say so and stop the forms that need it.
	function expire() {
		expired = true;
		var box = byId("eg-expired");
		if (box) { box.hidden = false; }
		var els = document.querySelectorAll(".eg-answer input, .eg-answer button, .eg-resend button, .eg-methods button");
		for (var i = 0; i < els.length; i++) { els[i].disabled = true; }
		var wait = byId("eg-resend-wait");
		if (wait) { wait.hidden = true; }
	}

	function tick() {
		if (expired) { return; }
		var nodes = document.querySelectorAll(".eg-countdown[data-seconds]");
		for (var i = 0; i < nodes.length; i++) {
			var t = clock(left(nodes[i]));
			if (nodes[i].textContent !== t) { nodes[i].textContent = t; }
		}
		var resend = byId("eg-resend");
		if (resend && resend.disabled && left(resend) === 0) {
			resend.disabled = false;
			var wait = byId("eg-resend-wait");
			if (wait) { wait.hidden = true; }
		}
		var exp = byId("eg-expires");
		if (exp) {
			var l = left(exp);
			if (l <= 60 && l > 0 && !warned && parseInt(exp.getAttribute("data-seconds"), 10) > 60) {
				warned = true;
				var live = byId("eg-live");
				if (live) { live.textContent = exp.getAttribute("data-warn"); }
			}
			if (l === 0) { expire(); }
		}
	}

	// One submission at a time: a double tap must not send two answers or
	// two SMS. The guard lifts after a while in case the network failed.
	document.addEventListener("submit", function (e) {
		var now = Date.now();
		if (now - sent < 10000) {
			e.preventDefault();
			return;
		}
		sent = now;
		var b = e.target.querySelector("button[type=submit]");
		if (b) { b.setAttribute("aria-busy", "true"); }
	});

	// Coming back through history shows a stale page: fetch it again.
	window.addEventListener("pageshow", function (e) {
		if (e.persisted) { window.location.reload(); }
	});

	// WebOTP: where the browser supports it, the code of an SMS that ends
	// with this site's "@host #code" line is filled in, with the
	// customer's consent in the browser's own prompt, and submitted.
	function webOTP() {
		var form = document.querySelector(".eg-answer[data-answer-method=sms]");
		if (!form || !("OTPCredential" in window) || !navigator.credentials) { return; }
		var input = form.querySelector("input[name=answer]");
		var ac = new AbortController();
		form.addEventListener("submit", function () { ac.abort(); });
		navigator.credentials.get({ otp: { transport: ["sms"] }, signal: ac.signal }).then(function (otp) {
			if (!otp || !otp.code || expired || !input || input.value) { return; }
			input.value = otp.code;
			if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
		}).catch(function () { /* no SMS, declined or aborted: the customer types the code */ });
	}

	document.addEventListener("DOMContentLoaded", function () {
		tick();
		window.setInterval(tick, 500);
		webOTP();
	});
}());
