// A click on a marker opens its <details> and scrolls to it without touching the URL (the sanitised message
// can't carry scripts; this page-level script only reads our own ids). Without it the #anchor still works.
document.addEventListener("click", (event) => {
  const link = event.target.closest ? event.target.closest("a.cite") : null;
  if (!link) return;
  const target = document.getElementById((link.getAttribute("href") || "").slice(1));
  if (!target) return;
  event.preventDefault();
  target.open = true;
  target.scrollIntoView({ block: "nearest", behavior: "smooth" });
  target.classList.add("flash");
  setTimeout(() => target.classList.remove("flash"), 1600);
});
