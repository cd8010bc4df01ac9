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

{{- define "taskraft.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "taskraft.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Common labels. */}}
{{- define "taskraft.labels" -}}
helm.sh/chart: {{ include "taskraft.chart" . }}
{{ include "taskraft.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: taskraft
{{- end }}

{{/* Selector labels: the taskraft pods of this release. */}}
{{- define "taskraft.selectorLabels" -}}
app.kubernetes.io/name: {{ include "taskraft.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "taskraft.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Majority of the members. */}}
{{- define "taskraft.quorum" -}}
{{- add (div (int .Values.replicaCount) 2) 1 }}
{{- end }}

{{/* PromQL label selector of this release's members (the ServiceMonitor's job is the headless Service). */}}
{{- define "taskraft.promSelector" -}}
{{- printf "job=\"%s\", namespace=\"%s\"" (include "taskraft.headlessName" .) .Release.Namespace }}
{{- end }}

{{/* Checks that the JSON schema cannot express, and a second guard for the ones it does. */}}
{{- define "taskraft.validate" -}}
{{- $n := int .Values.replicaCount }}
{{- if or (lt $n 1) (eq (mod $n 2) 0) }}
{{- fail (printf "replicaCount must be an odd number >= 1 (got %v): an even member count adds no fault tolerance and can split votes" .Values.replicaCount) }}
{{- end }}
{{- /* A shrink that leaves fewer than a quorum of the running members in one step cannot be carried out
     one member at a time: refuse it (helm template has no cluster to look up, and renders as asked). */}}
{{- $running := lookup "apps/v1" "StatefulSet" .Release.Namespace (include "taskraft.fullname" .) }}
{{- if and $running $running.spec }}
{{- $now := int (default 1 $running.spec.replicas) }}
{{- if lt $n (add (div $now 2) 1) }}
{{- fail (printf "replicaCount %d would leave fewer than a quorum of the %d running members (%d) in one step; shrink to %d first" $n $now (add (div $now 2) 1) (add (div $now 2) 1)) }}
{{- end }}
{{- end }}
{{- if not (has .Values.mysql.flavor (list "mysql" "mariadb")) }}
{{- fail (printf "mysql.flavor must be mysql or mariadb (got %q)" .Values.mysql.flavor) }}
{{- end }}
{{- if not (has .Values.podAntiAffinityPreset (list "soft" "hard" "none")) }}
{{- fail (printf "podAntiAffinityPreset must be soft, hard or none (got %q)" .Values.podAntiAffinityPreset) }}
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
