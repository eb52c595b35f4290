// Package charts checks the Helm chart in charts/soccerpredict: it renders it
// with Helm's own engine and decodes every manifest strictly into the
// Kubernetes API types, so a typo in a field name or a wrong type fails a test
// rather than a deploy.
package charts
