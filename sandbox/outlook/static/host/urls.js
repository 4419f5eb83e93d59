// Add-in URLs as the host loads them: with `office_js=stand-in`, so the product's pages load
// the sandbox's Office.js instead of Microsoft's CDN copy (the URL's own query is kept).
export function withStandIn(url) {
  const target = new URL(url);
  target.searchParams.set("office_js", "stand-in");
  return target.href;
}

// What the stand-in in a frame reads synchronously from `window.name` (as real Office on the web
// passes its host information to add-in frames): which frame it is and whether NAA is on.
export function frameName(frame, naa) {
  return JSON.stringify({ mailferryOutlook: { frame, naa } });
}
