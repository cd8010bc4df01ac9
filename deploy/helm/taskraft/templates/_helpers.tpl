{{/* Chart name. */}}
{{- define "taskraft.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, unless the release name already contains the chart name.
     Kept short enough that "<fullname>-headless" and pod names stay valid DNS labels. */}}
{{- define "taskraft.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "taskraft.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "taskraft.headlessName" -}}
{{- printf "%s-headless" (include "taskraft.fullname" .) }}
{{- end }}

{{- define "taskraft.leaderName" -}}
{{- printf "%s-leader" (include "taskraft.fullname" .) }}
{{- end }}

{{/* The cluster record ConfigMap: written by the leader, never rendered by the chart. */}}
{{- define "taskraft.clusterRecordName" -}}
{{- printf "%s-cluster" (include "taskraft.fullname" .) }}
{{- end }}

{{/* Whether the members use the Kubernetes API (so need a token and, with rbac.create, a Role). */}}
{{- define "taskraft.usesKubernetesApi" -}}
{{- if or .Values.raft.labelPodRole .Values.raft.clusterRecord.enabled .Values.raft.reconcileMembers }}true{{- end }}
{{- end }}

{{- define "taskraft.secretName" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecret }}
{{- else }}
{{- printf "%s-auth" (include "taskraft.fullname" .) }}
{{- end }}
{{- end }}

{{/* Whether the API needs tokens: auth.enabled, and on when the key is missing altogether (an upgrade with
     --reuse-values from a chart without it keeps the old defaults, which lack it): only an explicit false
     turns authentication off. */}}
{{- define "taskraft.authEnabled" -}}
{{- if or .Values.auth.enabled (not (hasKey .Values.auth "enabled")) }}true{{- end }}
{{- end }}

{{/* Key of the admin token in that Secret: `admin-token` in the generated one, auth.existingSecretKey in yours. */}}
{{- define "taskraft.adminTokenKey" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecretKey | default "admin-token" }}
{{- else -}}
admin-token
{{- end }}
{{- end }}

{{/* Where the taskraft container reads the admin token (TASKRAFT_ADMIN_TOKEN_FILE). */}}
{{- define "taskraft.adminTokenFile" -}}
/etc/taskraft/secret/admin-token
{{- end }}

{{/* Key of the backup-only token in that Secret: `backup-token` in the generated one,
     auth.existingSecretBackupTokenKey in yours. */}}
{{- define "taskraft.backupTokenKey" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecretBackupTokenKey | default "backup-token" }}
{{- else -}}
backup-token
{{- end }}
{{- end }}

{{/* Where the taskraft container reads the backup-only token (TASKRAFT_BACKUP_TOKEN_FILE). */}}
{{- define "taskraft.backupTokenFile" -}}
/etc/taskraft/secret/backup-token
{{- end }}

{{/* Whether backups are on (false when values from a chart without the section lack it). */}}
{{- define "taskraft.backupEnabled" -}}
{{- if (.Values.backup | default dict).enabled }}true{{- end }}
{{- end }}

{{/* Whether the members accept the backup token: backups on, and tokens required. */}}
{{- define "taskraft.backupToken" -}}
{{- if and (include "taskraft.backupEnabled" .) (include "taskraft.authEnabled" .) }}true{{- end }}
{{- end }}

{{/* restore.fromBackup: the claim (rendered with tpl) and the file's path in it; empty when not set. */}}
{{- define "taskraft.restoreClaim" -}}
{{- with dig "fromBackup" "claimName" "" (.Values.restore | default dict) }}
{{- tpl . $ }}
{{- end }}
{{- end }}

{{- define "taskraft.restorePath" -}}
{{- dig "fromBackup" "path" "" (.Values.restore | default dict) }}
{{- end }}

{{- define "taskraft.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "taskraft.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels of every object: the chart's own, then commonLabels (which cannot replace the chart's own). */}}
{{- define "taskraft.labels" -}}
{{- include "taskraft.labelsWith" (dict "ctx" . "extra" dict) }}
{{- end }}

{{/* The labels above plus an object's own ("extra" wins over commonLabels; the chart's own win over both).
     Call with (dict "ctx" $ "extra" (dict ...)). */}}
{{- define "taskraft.labelsWith" -}}
{{- $ctx := .ctx }}
{{- $own := dict "helm.sh/chart" (include "taskraft.chart" $ctx) "app.kubernetes.io/version" $ctx.Chart.AppVersion "app.kubernetes.io/managed-by" $ctx.Release.Service "app.kubernetes.io/part-of" "taskraft" }}
{{- $own = merge $own (include "taskraft.selectorLabels" $ctx | fromYaml) }}
{{- toYaml (merge $own (deepCopy (default dict .extra)) (deepCopy (default dict $ctx.Values.commonLabels))) }}
{{- end }}

{{/* metadata.annotations of an object: its own ("extra") over commonAnnotations; nothing when both are
     empty. Call with (dict "ctx" $ "extra" .Values.x.annotations). */}}
{{- define "taskraft.annotations" -}}
{{- $all := merge (deepCopy (default dict .extra)) (deepCopy (default dict .ctx.Values.commonAnnotations)) }}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* A value given as YAML (a list or a map) or as a string, rendered through tpl so it may use
     {{ .Values... }} and the chart's named templates. Call with (dict "value" .Values.x "ctx" $). */}}
{{- define "taskraft.tplValue" -}}
{{- if typeIs "string" .value }}
{{- tpl .value .ctx }}
{{- else }}
{{- tpl (toYaml .value) .ctx }}
{{- end }}
{{- end }}

{{/* Selector labels: the taskraft pods of this release. */}}
{{- define "taskraft.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskraft.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* An image reference: [registry/]repository, then @digest if set (a digest wins over the tag), else
     :tag (or the given default tag). global.imageRegistry overrides the image's own registry.
     Call with (list $image $defaultTag $). */}}
{{- define "taskraft.imageRef" -}}
{{- $image := index . 0 }}{{- $defaultTag := index . 1 }}{{- $ctx := index . 2 }}
{{- $global := $ctx.Values.global | default dict }}
{{- $registry := default $image.registry $global.imageRegistry }}
{{- $name := $image.repository }}
{{- if $registry }}{{ $name = printf "%s/%s" (trimSuffix "/" $registry) $image.repository }}{{ end }}
{{- if $image.digest }}
{{- printf "%s@%s" $name $image.digest }}
{{- else }}
{{- printf "%s:%s" $name (toString (default $defaultTag $image.tag)) }}
{{- end }}
{{- end }}

{{- define "taskraft.image" -}}
{{- include "taskraft.imageRef" (list .Values.image .Chart.AppVersion .) }}
{{- end }}

{{- define "taskraft.mysqlImage" -}}
{{- include "taskraft.imageRef" (list .Values.mysql.image .Values.mysql.image.tag .) }}
{{- end }}

{{/* storageClassName of a claim: the claim's own class, else persistence.storageClass; "-" means "" (no
     dynamic provisioning); nothing when both are empty (the cluster default). */}}
{{- define "taskraft.storageClass" -}}
{{- $class := default .global .own }}
{{- if eq $class "-" -}}
storageClassName: ""
{{- else if $class -}}
storageClassName: {{ $class | quote }}
{{- end }}
{{- end }}

{{/* The PodDisruptionBudget's limit: minAvailable or maxUnavailable as set, maxUnavailable 1 when neither is. */}}
{{- define "taskraft.pdbLimit" -}}
{{- if .Values.pdb.minAvailable -}}
minAvailable: {{ .Values.pdb.minAvailable }}
{{- else if .Values.pdb.maxUnavailable -}}
maxUnavailable: {{ .Values.pdb.maxUnavailable }}
{{- else -}}
maxUnavailable: 1
{{- end }}
{{- end }}

{{/* Majority of the members. */}}
{{- define "taskraft.quorum" -}}
{{- add (div (int .Values.replicaCount) 2) 1 }}
{{- end }}

{{/* PromQL label selector of this release's members (the ServiceMonitor's job is the headless Service). */}}
{{- define "taskraft.promSelector" -}}
{{- printf "job=\"%s\", namespace=\"%s\"" (include "taskraft.headlessName" .) .Release.Namespace }}
{{- end }}

{{/* The backup CronJob, its claim and the Job that binds and checks that claim: <fullname>-backup[-...]. */}}
{{- define "taskraft.backupName" -}}
{{- printf "%s-backup" (include "taskraft.fullname" .) }}
{{- end }}

{{/* The claim the backup files go to: backup.persistence.existingClaim, else the chart's. */}}
{{- define "taskraft.backupClaimName" -}}
{{- with .Values.backup.persistence.existingClaim }}
{{- tpl . $ }}
{{- else }}
{{- include "taskraft.backupName" . }}
{{- end }}
{{- end }}

{{/* Labels of the backup Jobs and their pods. Not the members' selector labels (app.kubernetes.io/name differs):
     the StatefulSet, the Services (and so the ServiceMonitor), the PodDisruptionBudget and the NetworkPolicy
     must not take a backup pod for a member. <fullname>-client lets it through a NetworkPolicy that keeps
     the HTTP port to clients (networkPolicy.http.allowExternal=false). */}}
{{- define "taskraft.backupPodLabels" -}}
{{- $own := dict "app.kubernetes.io/name" (printf "%s-backup" (include "taskraft.name" .) | trunc 63 | trimSuffix "-") }}
{{- $_ := set $own "app.kubernetes.io/instance" .Release.Name }}
{{- $_ = set $own "app.kubernetes.io/component" "backup" }}
{{- $_ = set $own "app.kubernetes.io/part-of" "taskraft" }}
{{- $_ = set $own "app.kubernetes.io/managed-by" .Release.Service }}
{{- $_ = set $own (printf "%s-client" (include "taskraft.fullname" .)) "true" }}
{{- toYaml (merge $own (deepCopy (default dict .Values.backup.podLabels)) (deepCopy .Values.commonLabels)) }}
{{- end }}

{{/* The client Service's URL, under the name the certificate holds: what the backup Job calls. */}}
{{- define "taskraft.clientUrl" -}}
{{- printf "%s://%s:%v" (include "taskraft.scheme" .) (include "taskraft.serviceHost" .) .Values.service.port }}
{{- end }}

{{/* Seconds in a Prometheus duration of whole units ("26h", "1d12h", "90m"); call with the string. */}}
{{- define "taskraft.durationSeconds" -}}
{{- $units := dict "s" 1 "m" 60 "h" 3600 "d" 86400 "w" 604800 }}
{{- $total := 0 }}
{{- range regexFindAll "[0-9]+[smhdw]" . -1 }}
{{- $total = add $total (mul (atoi (regexFind "[0-9]+" .)) (get $units (regexFind "[smhdw]$" .))) }}
{{- end }}
{{- $total }}
{{- end }}

{{/* The pod-level fields every backup pod shares (the CronJob's and the claim check's): the same nodes, so
     a claim bound by the check is one the backups can mount. */}}
{{- define "taskraft.backupPodCommon" -}}
{{- $b := .Values.backup -}}
restartPolicy: Never
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml (default .Values.podSecurityContext $b.podSecurityContext) | nindent 2 }}
{{- with $b.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $b.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $b.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Checks that the JSON schema cannot express, and a second guard for the ones it does. Every error is
     collected first, so one run names them all. */}}
{{- define "taskraft.validate" -}}
{{- $errors := list }}
{{- $n := int .Values.replicaCount }}
{{- if or (lt $n 1) (eq (mod $n 2) 0) }}
{{- $errors = append $errors (printf "replicaCount must be an odd number >= 1 (got %v): an even member count adds no fault tolerance and can split votes" .Values.replicaCount) }}
{{- end }}
{{- /* A shrink that leaves fewer than a quorum of the running members in one step cannot be carried out
     one member at a time: refuse it (helm template has no cluster to look up, and renders as asked). */}}
{{- $running := lookup "apps/v1" "StatefulSet" .Release.Namespace (include "taskraft.fullname" .) }}
{{- if and $running $running.spec }}
{{- $now := int (default 1 $running.spec.replicas) }}
{{- if lt $n (add (div $now 2) 1) }}
{{- $errors = append $errors (printf "replicaCount %d would leave fewer than a quorum of the %d running members (%d) in one step; shrink to %d first" $n $now (add (div $now 2) 1) (add (div $now 2) 1)) }}
{{- end }}
{{- end }}
{{- if not (has .Values.mysql.flavor (list "mysql" "mariadb")) }}
{{- $errors = append $errors (printf "mysql.flavor must be mysql or mariadb (got %q)" .Values.mysql.flavor) }}
{{- end }}
{{- if not (has .Values.podAntiAffinityPreset (list "soft" "hard" "none")) }}
{{- $errors = append $errors (printf "podAntiAffinityPreset must be soft, hard or none (got %q)" .Values.podAntiAffinityPreset) }}
{{- end }}
{{- if and .Values.pdb.minAvailable .Values.pdb.maxUnavailable }}
{{- $errors = append $errors (printf "pdb.minAvailable (%v) and pdb.maxUnavailable (%v) are mutually exclusive: set one of them, leave the other empty" .Values.pdb.minAvailable .Values.pdb.maxUnavailable) }}
{{- end }}
{{- if and .Values.persistence.enabled .Values.persistence.existingClaim (gt $n 1) }}
{{- $errors = append $errors (printf "persistence.existingClaim (%s) holds the data of one member only; it needs replicaCount=1 (got %d)" .Values.persistence.existingClaim $n) }}
{{- end }}
{{- if and .Values.service.nodePort (eq .Values.service.type "ClusterIP") }}
{{- $errors = append $errors (printf "service.nodePort (%v) needs service.type NodePort or LoadBalancer (got ClusterIP)" .Values.service.nodePort) }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.hosts) }}
{{- $errors = append $errors "ingress.enabled needs at least one entry in ingress.hosts" }}
{{- end }}
{{- if and .Values.networkPolicy.extraEgress (not (and .Values.networkPolicy.enabled .Values.networkPolicy.egress.enabled)) }}
{{- $errors = append $errors "networkPolicy.extraEgress has no effect unless networkPolicy.enabled and networkPolicy.egress.enabled are true" }}
{{- end }}
{{- $tls := .Values.tls }}
{{- if and $tls.enabled (not $tls.existingSecret) (not $tls.certManager.enabled) }}
{{- $errors = append $errors "tls.enabled needs a certificate: tls.existingSecret (a kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt) or tls.certManager.enabled" }}
{{- end }}
{{- if and $tls.existingSecret $tls.certManager.enabled }}
{{- $errors = append $errors "tls.existingSecret and tls.certManager.enabled are mutually exclusive: cert-manager writes the Secret <fullname>-tls itself" }}
{{- end }}
{{- if and $tls.certManager.enabled (not $tls.enabled) }}
{{- $errors = append $errors "tls.certManager.enabled issues a certificate only for tls.enabled=true" }}
{{- end }}
{{- if and $tls.enabled .Values.metrics.serviceMonitor.enabled .Values.metrics.serviceMonitor.namespace (ne .Values.metrics.serviceMonitor.namespace .Release.Namespace) }}
{{- $errors = append $errors (printf "tls.enabled: the ServiceMonitor reads the CA from the TLS Secret, which must be in its namespace; leave metrics.serviceMonitor.namespace empty (got %q)" .Values.metrics.serviceMonitor.namespace) }}
{{- end }}
{{- if and $tls.certManager.enabled (not $tls.certManager.issuerRef.name) }}
{{- $errors = append $errors "tls.certManager.enabled needs tls.certManager.issuerRef.name (an Issuer or ClusterIssuer that fills ca.crt)" }}
{{- end }}
{{- if and .Values.auth.metricsToken (not (include "taskraft.authEnabled" .)) }}
{{- $errors = append $errors "auth.metricsToken puts /metrics behind a token, which needs auth.enabled=true" }}
{{- end }}
{{- if and .Values.auth.metricsToken .Values.metrics.serviceMonitor.enabled .Values.metrics.serviceMonitor.namespace (ne .Values.metrics.serviceMonitor.namespace .Release.Namespace) }}
{{- $errors = append $errors (printf "auth.metricsToken: the ServiceMonitor reads the token from the Secret, which must be in its namespace; leave metrics.serviceMonitor.namespace empty (got %q)" .Values.metrics.serviceMonitor.namespace) }}
{{- end }}
{{- /* backup and restore: an upgrade with --reuse-values from a chart before 0.3.0 brings values without
     these sections (that version's defaults), so every read of them here and in the templates copes with
     their absence, and backups on with keys missing are refused with the way out. */}}
{{- $b := .Values.backup | default dict }}
{{- if $b.enabled }}
{{- $missing := list }}
{{- range $key := list "schedule" "keep" "suspend" "concurrencyPolicy" "successfulJobsHistoryLimit" "failedJobsHistoryLimit" "backoffLimit" "activeDeadlineSeconds" "persistence" "resources" "alert" }}
{{- if not (hasKey $b $key) }}
{{- $missing = append $missing (printf "backup.%s" $key) }}
{{- end }}
{{- end }}
{{- if $missing }}
{{- $errors = append $errors (printf "backup.enabled, but the values have no %s: an upgrade with --reuse-values from a chart version before 0.3.0 keeps that version's values, which have none; upgrade with --reset-then-reuse-values, or give every value again" (join ", " $missing)) }}
{{- else }}
{{- $maxAge := toString (dig "maxAge" "" $b.alert) }}
{{- if or (eq $maxAge "") (not (regexMatch "^([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$" $maxAge)) }}
{{- $errors = append $errors (printf "backup.alert.maxAge must be a Prometheus duration of whole units, largest first, such as 26h or 1d12h (got %q)" $maxAge) }}
{{- end }}
{{- if lt (int $b.keep) 1 }}
{{- $errors = append $errors (printf "backup.keep must be at least 1 (got %v): it is how many backup files stay" $b.keep) }}
{{- end }}
{{- end }}
{{- end }}
{{- $claim := include "taskraft.restoreClaim" . }}
{{- $path := include "taskraft.restorePath" . }}
{{- if and $claim (not $path) }}
{{- $errors = append $errors (printf "restore.fromBackup.claimName (%s) needs restore.fromBackup.path: the backup file's path inside that claim" $claim) }}
{{- end }}
{{- if and $path (not $claim) }}
{{- $errors = append $errors (printf "restore.fromBackup.path (%s) needs restore.fromBackup.claimName: the claim that holds the file" $path) }}
{{- end }}
{{- if and $path (or (hasPrefix "/" $path) (has ".." (splitList "/" $path))) }}
{{- $errors = append $errors (printf "restore.fromBackup.path must be a path inside the claim: relative, without .. (got %q)" $path) }}
{{- end }}
{{- with $errors }}
{{- fail (printf "\n%s" (join "\n" .)) }}
{{- end }}
{{- end }}

{{/* Whether to render a prometheus-operator object of the given kind. */}}
{{- define "taskraft.monitoringApi" -}}
{{- $ctx := index . 0 }}{{- $kind := index . 1 }}
{{- if or (not $ctx.Values.metrics.onlyIfCRDsInstalled) ($ctx.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" $kind)) }}true{{- end }}
{{- end }}

{{/* Environment of the database sidecar: the official images create the database and the app user.
     Passwords are read from the mounted Secret (the images' *_FILE variables), not from env values. */}}
{{- define "taskraft.mysqlEnv" -}}
{{- $prefix := ternary "MARIADB" "MYSQL" (eq .Values.mysql.flavor "mariadb") -}}
- name: {{ $prefix }}_ROOT_PASSWORD_FILE
  value: /etc/mysql-secret/mysql-root-password
- name: {{ $prefix }}_DATABASE
  value: {{ .Values.mysql.database | quote }}
- name: {{ $prefix }}_USER
  value: {{ .Values.mysql.user | quote }}
- name: {{ $prefix }}_PASSWORD_FILE
  value: /etc/mysql-secret/mysql-password
{{- end }}

{{/* TLS on the HTTP port: the Secret the pods mount (tls.crt, tls.key, ca.crt), where, and the scheme. */}}
{{- define "taskraft.tlsSecretName" -}}
{{- if .Values.tls.existingSecret }}
{{- tpl .Values.tls.existingSecret . }}
{{- else }}
{{- printf "%s-tls" (include "taskraft.fullname" .) }}
{{- end }}
{{- end }}

{{- define "taskraft.tlsDir" -}}
/etc/taskraft/tls
{{- end }}

{{- define "taskraft.scheme" -}}
{{- ternary "https" "http" (and .Values.tls.enabled true) }}
{{- end }}

{{/* The client Service's name as the certificate names it (the ServiceMonitor's serverName, helm test's host). */}}
{{- define "taskraft.serviceHost" -}}
{{- printf "%s.%s.svc" (include "taskraft.fullname" .) .Release.Namespace }}
{{- end }}
