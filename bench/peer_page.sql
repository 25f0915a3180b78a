-- The page of bench/peer_bench.py in ONE statement: PostgreSQL builds casegraph's whole response
-- document for an ADMIN (the newest 50 service requests with SLA due time, customer, invoice with
-- outstanding, assignee, team and approvals), with casegraph's keys and value formats: Money.amount
-- is the NUMERIC's text, DateTime is ISO-8601 in UTC with a "Z" and microseconds only when not zero.
-- peer_bench.py checks that this JSON equals casegraph's answer before it runs this statement under
-- `pgbench -M prepared` as the raw limit. Join shape: LEFT JOINs for the to-one relations, a
-- correlated subquery for the approvals, ORDER BY created_at DESC, id DESC LIMIT 50 (the index
-- ix_service_requests_created_at_id read backwards).
-- The to_char formats are split ('HH24:' || 'MI:' ...) only so that pgbench does not read :MI or :SS
-- as its variables; the planner folds the constants, the result is the same.
SELECT json_build_object('data', json_build_object('serviceRequests', json_build_object('nodes',
         coalesce(json_agg(page.node ORDER BY page.created_at DESC, page.id DESC), '[]'::json))))::text
FROM (
  SELECT sr.id, sr.created_at, json_build_object(
           'number', sr.number,
           'status', sr.status,
           'priority', sr.priority,
           'subject', sr.subject,
           'financialImpact', CASE WHEN sr.financial_impact_amount IS NOT NULL
                                   THEN json_build_object('amount', sr.financial_impact_amount::text) END,
           'createdAt', to_char(sr.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:' || 'MI:' || 'SS')
                        || CASE WHEN extract(microseconds FROM sr.created_at)::bigint % 1000000 <> 0
                                THEN to_char(sr.created_at AT TIME ZONE 'UTC', '.US') ELSE '' END || 'Z',
           'sla', json_build_object('resolutionDueAt',
                    to_char(sr.resolution_due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:' || 'MI:' || 'SS')
                    || CASE WHEN extract(microseconds FROM sr.resolution_due_at)::bigint % 1000000 <> 0
                            THEN to_char(sr.resolution_due_at AT TIME ZONE 'UTC', '.US') ELSE '' END || 'Z'),
           'customer', json_build_object('name', c.name, 'riskRating', c.risk_rating),
           'invoice', CASE WHEN i.id IS NOT NULL THEN json_build_object(
                        'number', i.number, 'outstanding', json_build_object('amount', i.outstanding::text)) END,
           'assignee', CASE WHEN a.id IS NOT NULL THEN json_build_object('name', a.name, 'email', a.email) END,
           'team', CASE WHEN t.id IS NOT NULL THEN json_build_object('name', t.name) END,
           'approvals', (SELECT coalesce(json_agg(json_build_object(
                                  'status', ap.status,
                                  'requiredLevel', ap.required_level,
                                  'amount', CASE WHEN ap.amount IS NOT NULL
                                                 THEN json_build_object('amount', ap.amount::text) END)
                                ORDER BY ap.id), '[]'::json)
                         FROM approvals ap WHERE ap.request_id = sr.id)) AS node
  FROM service_requests sr
  JOIN customers c ON c.id = sr.customer_id
  LEFT JOIN invoices i ON i.id = sr.invoice_id
  LEFT JOIN staff a ON a.id = sr.assignee_id
  LEFT JOIN teams t ON t.id = sr.team_id
  ORDER BY sr.created_at DESC, sr.id DESC
  LIMIT 50
) AS page;
