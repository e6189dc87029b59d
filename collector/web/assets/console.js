/* eduwatch console: what JavaScript adds to pages that work without it.
 * Score and alert-volume charts (uPlot, served by the collector) and live updates: pages
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
	/* Alerts by kind per day: the table below it holds the same rows
	 * for readers without JavaScript. One series per kind, zeros on
	 * the days a kind had none. */
	var volume = document.getElementById('volume-chart');
	if (volume && window.uPlot && window.fetch) {
		fetch(volume.getAttribute('data-src'), {credentials: 'same-origin'})
			.then(function (r) { return r.json(); })
			.then(function (j) {
				var days = [], kinds = [], at = {};
				j.items.forEach(function (v) {
					if (days.indexOf(v.day) < 0)
						days.push(v.day);
					if (kinds.indexOf(v.kind) < 0)
						kinds.push(v.kind);
					at[v.day + '|' + v.kind] = v.count;
				});
				if (days.length === 0)
					return;
				/* Every day of the window on the axis, today (Vietnam
				 * time) last, so one busy day is not the whole chart. */
				var last = new Date(Date.now() + 7 * 3600e3).toISOString().slice(0, 10);
				var end = Date.parse(last + 'T00:00:00Z');
				days.sort();
				if (days[days.length - 1] > last)
					end = Date.parse(days[days.length - 1] + 'T00:00:00Z');
				var all = [];
				for (var i = (j.days || days.length) - 1; i >= 0; i--)
					all.push(new Date(end - i * 86400e3).toISOString().slice(0, 10));
				days.forEach(function (d) {
					if (all.indexOf(d) < 0)
						all.push(d);
				});
				days = all.sort();
				var colours = ['#0b3d6e', '#b03a2e', '#1e8449', '#b9770e',
					       '#6c3483', '#117a65', '#5d6d7e', '#a04000'];
				var data = [days.map(function (d) {
					return Date.parse(d + 'T00:00:00Z') / 1000;
				})];
				var series = [{}];
				kinds.forEach(function (k, i) {
					data.push(days.map(function (d) {
						return at[d + '|' + k] || 0;
					}));
					series.push({label: k, stroke: colours[i % colours.length],
						     width: 2});
				});
				new window.uPlot({
					width: Math.min(800, volume.clientWidth || 800),
					height: 240,
					series: series,
					scales: {y: {range: function (u, lo, hi) {
						return [0, Math.max(1, hi)];
					}}}
				}, data, volume);
				volume.setAttribute('data-kinds', String(kinds.length));
				volume.setAttribute('data-points', String(days.length));
			});
	}
})();
