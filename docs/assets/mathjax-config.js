// MathJax 3 for pymdownx.arithmatex's generic output: typeset only the .arithmatex spans,
// with everything bundled (no loader requests, no menu fetches).
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
    enableMenu: false,
  },
  svg: { fontCache: "global" },
  startup: {
    pageReady: () =>
      MathJax.startup.defaultPageReady().then(() => {
        document.body.dataset.mathTypeset = "1";
      }),
  },
};
