// What the Seller Cockpit's frontend takes: the page and its components. Each reads the
// API only through the `service` object it is given (see PerformancePage).
import './components/performance/performance.css';

export { default as PerformancePage } from './pages/PerformancePage.jsx';
export { default as InsightCard } from './components/performance/InsightCard.jsx';
export { default as Drilldown } from './components/performance/Drilldown.jsx';
export { default as InsightDetail } from './components/performance/InsightDetail.jsx';
export { default as InsightList } from './components/performance/InsightList.jsx';
export { default as MetricsOverview } from './components/performance/MetricsOverview.jsx';
export { default as ProposalCard } from './components/performance/ProposalCard.jsx';
export { default as TrendChart } from './components/performance/TrendChart.jsx';
