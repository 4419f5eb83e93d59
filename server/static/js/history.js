// Sync History, progressive enhancement only: every action works without this file.
// A "select all" checkbox in the first column header ticks that column's boxes on the page.
(function () {
  "use strict";
  var selectAll = document.getElementById("select-all");
  if (!selectAll) { return; }
  var name = selectAll.getAttribute("data-select");
  var boxes = Array.prototype.slice.call(
    document.querySelectorAll('#save-form input[type="checkbox"][name="' + name + '"]')
  );
  if (!boxes.length) { return; }
  selectAll.hidden = false;

  function refresh() {
    var ticked = boxes.filter(function (box) { return box.checked; }).length;
    selectAll.checked = ticked === boxes.length;
    selectAll.indeterminate = ticked > 0 && ticked < boxes.length;
  }
  selectAll.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = selectAll.checked; });
    refresh();
  });
  boxes.forEach(function (box) { box.addEventListener("change", refresh); });
  refresh();
})();
