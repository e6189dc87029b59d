/* eduwatch console: what JavaScript adds to pages that work without it.
 * Score charts (uPlot, served by the collector) and live updates: pages
 * with a #live stamp poll /api/v1/live every 2.5 s and reload when new
 * alerts or scores arrive. No inline script anywhere (CSP). */
(function () {
	'use strict';
	var live = document.getElementById('live');
	if (live && window.fetch) {
		var stamp = live.getAttribute('data-stamp');
		setInterval(function () {
			fetch('/api/v1/live', {credentials: 'same-origin'})
				.then(function (r) { return r.ok ? r.json() : null; })
				.then(function (j) {
					if (j && j.stamp !== stamp)
						location.reload();
				})
				.catch(function () {});
		}, 2500);
	}
	var chart = document.getElementById('chart');
	if (chart && window.uPlot && window.fetch) {
		fetch(chart.getAttribute('data-src'), {credentials: 'same-origin'})
			.then(function (r) { return r.json(); })
			.then(function (j) {
				var xs = [], ys = [];
				j.items.slice().reverse().forEach(function (s) {
					xs.push(Date.parse(s.day + 'T00:00:00Z') / 1000);
					ys.push(s.score);
				});
				if (xs.length === 0)
					return;
				new window.uPlot({
					width: Math.min(800, chart.clientWidth || 800),
					height: 240,
					series: [{}, {label: chart.getAttribute('data-label'),
						      stroke: '#0b3d6e', width: 2}],
					scales: {y: {range: [0, 100]}}
				}, [xs, ys], chart);
				chart.setAttribute('data-points', String(xs.length));
			});
	}
})();
