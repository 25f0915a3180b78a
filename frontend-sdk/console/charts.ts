// Bar charts for the dashboard (Chart.js, bundled into the console by build.mjs). Only the parts
// used are registered, so the bundle carries no other chart types.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
  type ChartDataset,
  type Plugin,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
Chart.defaults.font.size = 12;
Chart.defaults.color = '#667085';

const INK = '#1d2330';
const GRID = '#eef0f4';

export interface BarSeries {
  label: string;
  values: number[];
  /** One color for the series, or one per bar. */
  color: string | string[];
}

export interface BarChartOptions {
  /** Bars grow to the right (categories down the side), else upwards. */
  horizontal: boolean;
  /** How a value reads at the end of its bar and in the tooltip. */
  format: (value: number) => string;
  /** How the value axis' ticks read (default: `format`). */
  tick?: (value: number) => string;
  legend?: boolean;
}

/** Writes each bar's value at its end: a dashboard is read at a glance, not by hovering. */
function valueLabels(options: BarChartOptions): Plugin<'bar'> {
  return {
    id: 'casegraphValueLabels',
    afterDatasetsDraw(chart) {
      const { ctx } = chart;
      ctx.save();
      ctx.fillStyle = INK;
      ctx.font = `600 12px ${String(Chart.defaults.font.family)}`;
      ctx.textAlign = options.horizontal ? 'left' : 'center';
      ctx.textBaseline = options.horizontal ? 'middle' : 'bottom';
      chart.data.datasets.forEach((dataset, i) => {
        const meta = chart.getDatasetMeta(i);
        if (meta.hidden) return;
        meta.data.forEach((bar, j) => {
          const value = dataset.data[j];
          if (typeof value !== 'number') return;
          const text = options.format(value);
          if (options.horizontal) ctx.fillText(text, bar.x + 6, bar.y);
          else ctx.fillText(text, bar.x, bar.y - 4);
        });
      });
      ctx.restore();
    },
  };
}

function reducedMotion(): boolean {
  return typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;
}

export class BarChart {
  private readonly chart: Chart<'bar', number[], string>;

  constructor(canvas: HTMLCanvasElement, options: BarChartOptions) {
    const valueAxis = {
      beginAtZero: true,
      grace: '12%',
      grid: { color: GRID },
      border: { display: false },
      ticks: { precision: 0, callback: (value: string | number) => (options.tick ?? options.format)(Number(value)) },
    };
    const categoryAxis = { grid: { display: false }, border: { color: GRID }, ticks: { color: INK } };
    this.chart = new Chart(canvas, {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: {
        indexAxis: options.horizontal ? 'y' : 'x',
        responsive: true,
        maintainAspectRatio: false,
        animation: reducedMotion() ? false : { duration: 300 },
        layout: { padding: options.horizontal ? { right: 56 } : { top: 18 } },
        scales: options.horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
        plugins: {
          legend: { display: options.legend ?? false, position: 'bottom', labels: { boxWidth: 12, boxHeight: 12 } },
          tooltip: { callbacks: { label: (item) => `${item.dataset.label ?? ''}: ${options.format(item.parsed[options.horizontal ? 'x' : 'y'] ?? 0)}` } },
        },
      },
      plugins: [valueLabels(options)],
    });
  }

  update(labels: string[], series: BarSeries[]): void {
    const data = this.chart.data;
    data.labels = labels;
    const datasets: ChartDataset<'bar', number[]>[] = series.map((s) => ({
      label: s.label,
      data: s.values,
      backgroundColor: s.color,
      borderRadius: 4,
      maxBarThickness: 26,
    }));
    // Same series as before: change their values in place, so the bars move instead of re-drawing.
    if (data.datasets.length === datasets.length) {
      datasets.forEach((d, i) => Object.assign(data.datasets[i]!, d));
    } else {
      data.datasets = datasets;
    }
    this.chart.update();
  }

  destroy(): void {
    this.chart.destroy();
  }
}
