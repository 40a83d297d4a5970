// Answers the form without a page reload, from /api/v1/lookup. Builds the
// same markup as the server-rendered answer (src/server/page.rs), using
// textContent only, so nothing from the network is ever parsed as HTML.
// Without JavaScript the form is a plain GET and the server renders it.
"use strict";

const IMPORTANT = ["oauth-required", "oauth-recommended", "app-password",
  "enable-imap", "enable-pop", "provider-status"];
const AUTH = { "password": "password", "password-encrypted": "encrypted password (CRAM-MD5)",
  "oauth2": "OAuth2", "ntlm": "NTLM", "gssapi": "Kerberos (GSSAPI)",
  "client-cert": "client certificate", "none": "none" };
const SSL = { tls: "On (SSL/TLS)", starttls: "On (STARTTLS)", none: "Off" };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function note(n, important) {
  const p = el("p", { class: important ? "note important" : "note", "data-code": n.code }, n.text);
  if (n.url && n.url.startsWith("https://")) {
    p.append(" ", el("a", { href: n.url, rel: "noopener" }, "More"));
  }
  return p;
}

function serverRows(table, title, s) {
  const head = el("tr", {}, el("th", { colspan: "2", scope: "colgroup" },
    `${title} (${s.protocol.toUpperCase()})`));
  table.append(head);
  const rows = [["Host Name", s.host], ["User Name", s.username], ["Server Port", String(s.port)],
    ["Use SSL", SSL[s.security] || s.security], ["Authentication", s.auth.map(a => AUTH[a] || a).join(", ")]];
  for (const [k, v] of rows) table.append(el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, v)));
}

function oauthOnly(d) {
  const all = d.incoming.concat(d.outgoing);
  return all.length > 0 && all.every(s => s.auth.length > 0 && s.auth.every(a => a === "oauth2"));
}

async function render(d, email, out) {
  const q = "emailaddress=" + encodeURIComponent(email);
  const profileUrl = new URL("/apple/mobileconfig?" + q, location.href).href;
  out.append(el("h2", {}, d.provider ? `${d.email} — ${d.provider.name}` : d.email));
  const oauth = oauthOnly(d);
  if (oauth) {
    const name = d.provider ? d.provider.name : "its own";
    out.append(el("div", { class: "lead", id: "builtin" },
      el("h3", {}, `Use the iPhone's built-in ${name} account`),
      el("p", {}, "This provider accepts only sign-in with its own page (OAuth), so a password does not work. "
        + "The note below says where to add it on the iPhone.")));
  }
  for (const n of d.notes.filter(n => IMPORTANT.includes(n.code))) out.append(note(n, true));
  const head = await fetch(profileUrl, { method: "HEAD" });
  if (head.ok) {
    const label = oauth ? "Download the Exchange (OAuth) profile" : "Download profile";
    out.append(el("div", { class: "profile" },
      el("p", {}, el("a", { class: "download", id: "profile-link", href: profileUrl }, label)),
      el("p", { class: "hint" }, "On the iPhone: tap it in Safari, then open Settings › Profile Downloaded and tap Install. "
        + "The iPhone asks for the password; it is never part of the profile."),
      el("figure", { class: "qr", id: "qr" },
        el("img", { src: "/qr.svg?" + q, alt: "QR code that opens the profile", width: "232", height: "232" }),
        el("figcaption", {}, "Or scan this with the iPhone's camera to open the profile."))));
    // No QR code when the service was reached by a name it makes no links for.
    const qr = out.querySelector("#qr");
    qr.querySelector("img").addEventListener("error", () => qr.remove());
  } else {
    // No profile for this account: the server says why and what to do.
    const why = await fetch(profileUrl);
    out.append(el("p", { class: "note" }, (await why.text()).trim()));
  }
  const table = el("table", { class: "settings" }, el("caption", {}, "Settings to type in"));
  if (d.incoming[0]) serverRows(table, "Incoming mail server", d.incoming[0]);
  if (d.outgoing[0]) serverRows(table, "Outgoing mail server", d.outgoing[0]);
  out.append(table);
  const others = d.incoming.slice(1).concat(d.outgoing.slice(1));
  if (others.length) {
    out.append(el("h3", {}, "Alternatives"),
      el("ul", { class: "alternatives" }, ...others.map(s => el("li", {}, el("code", {}, s.url)))));
  }
  for (const n of d.notes.filter(n => !IMPORTANT.includes(n.code))) out.append(note(n, false));
  const steps = await fetch("/apple/steps?" + q);
  if (steps.ok) {
    out.append(el("h3", {}, "Set it up by hand on the iPhone"),
      el("pre", { class: "steps", id: "steps" }, await steps.text()));
  }
}

async function lookup(event) {
  event.preventDefault();
  const email = document.getElementById("email").value.trim();
  const out = document.getElementById("result");
  const fresh = el("div", {});
  try {
    const r = await fetch("/api/v1/lookup?email=" + encodeURIComponent(email),
      { headers: { Accept: "application/json" } });
    const d = await r.json();
    if (!r.ok) {
      fresh.append(el("p", { class: "error", role: "alert" }, d.error || "Something went wrong."));
    } else {
      await render(d, email, fresh);
    }
    history.replaceState(null, "", "/?email=" + encodeURIComponent(email));
  } catch (e) {
    fresh.append(el("p", { class: "error", role: "alert" },
      "The settings could not be fetched. Check the connection and try again."));
  }
  out.replaceChildren(...fresh.childNodes);
  const h = out.querySelector("h2");
  if (h) { h.tabIndex = -1; h.focus(); }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("lookup").addEventListener("submit", lookup);
});
