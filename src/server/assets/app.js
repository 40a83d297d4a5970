// Answers the form without a page reload. The answer is the same HTML the
// server renders for the plain form (GET /?email=E), fetched and parsed
// with DOMParser (which runs no scripts); only the #result section is
// taken over, so the markup with and without JavaScript is one and the
// same. While the lookup runs (it can take seconds) the page says so.
// Copy buttons, hidden without JavaScript, are switched on here.
"use strict";

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  // Plain HTTP: select a temporary field and copy it the old way.
  const t = document.createElement("textarea");
  t.value = text;
  t.setAttribute("readonly", "");
  t.style.position = "fixed";
  t.style.opacity = "0";
  document.body.append(t);
  t.select();
  const ok = document.execCommand("copy");
  t.remove();
  return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

function enableCopy(root) {
  for (const b of root.querySelectorAll("button.copy")) {
    b.hidden = false;
    b.addEventListener("click", () => {
      copyText(b.dataset.copy).then(
        () => { b.textContent = "Copied"; b.classList.add("done"); },
        () => { b.textContent = "Select and copy"; });
      setTimeout(() => { b.textContent = "Copy"; b.classList.remove("done"); }, 1800);
    });
  }
}

function message(text) {
  const p = document.createElement("p");
  p.className = "error";
  p.setAttribute("role", "alert");
  p.textContent = text;
  return p;
}

async function lookup(event) {
  event.preventDefault();
  const input = document.getElementById("email");
  const email = input.value.trim();
  const out = document.getElementById("result");
  const button = event.target.querySelector("button[type=submit]");
  const loading = document.createElement("p");
  loading.className = "loading";
  loading.setAttribute("role", "status");
  loading.textContent = "Looking up the settings for " + email + "… this can take a few seconds.";
  out.setAttribute("aria-busy", "true");
  out.replaceChildren(loading);
  button.disabled = true;
  let fresh;
  try {
    const r = await fetch("/?email=" + encodeURIComponent(email), { headers: { Accept: "text/html" } });
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    const answer = doc.getElementById("result");
    fresh = answer ? Array.from(answer.childNodes, n => document.importNode(n, true))
      : [message("The answer could not be read. Try again.")];
    history.replaceState(null, "", "/?email=" + encodeURIComponent(email));
  } catch (e) {
    fresh = [message("The settings could not be fetched. Check your internet connection and try again.")];
  }
  out.replaceChildren(...fresh);
  out.removeAttribute("aria-busy");
  button.disabled = false;
  enableCopy(out);
  const h = out.querySelector("h2") || out.querySelector(".error");
  if (h) { h.tabIndex = -1; h.focus(); }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("lookup").addEventListener("submit", lookup);
  enableCopy(document);
});
