// The theme reads the colour mode from <html data-mode>; start in light mode unless the
// reader chose one (an empty mode makes the theme log an error on every page).
if (!document.documentElement.dataset.mode) {
  document.documentElement.dataset.mode = localStorage.getItem("mode") || "light";
}
