{{/* The chart name, or nameOverride. */}}
{{- define "chatgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name every resource name starts with: the release name, with the chart name
appended unless the release name already contains it. Cut to 40 characters so that the
longest suffix (-scheduler-metrics) still fits a 63-character name.
*/}}
{{- define "chatgate.fullname" -}}
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

{{/* Labels of every resource. */}}
{{- define "chatgate.labels" -}}
app.kubernetes.io/name: {{ include "chatgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{ include "chatgate.commonLabels" . }}
{{- end }}

{{/* The labels besides name and instance: pods carry these next to their selector labels. */}}
{{- define "chatgate.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ include "chatgate.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chatgate
{{- end }}

{{/* Selector labels of one role's pods; call with (dict "ctx" $ "role" "worker"). */}}
{{- define "chatgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chatgate.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end }}

{{/* The image's tag: image.tag, else the chart's appVersion. */}}
{{- define "chatgate.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* The image reference, pinned by digest when one is given. */}}
{{- define "chatgate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "chatgate.imageTag" .) }}
{{- end }}
{{- end }}

{{/* The ServiceAccount the pods run as. */}}
{{- define "chatgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "chatgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the processes read: existingSecret, else the one the chart makes. */}}
{{- define "chatgate.secretName" -}}
{{- default (include "chatgate.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
The roles that run, in start order, as a list (fromJsonArray of this). ingress, worker,
relay and sender always run: without one of them messages are not taken, stored, published
or sent.
*/}}
{{- define "chatgate.roles" -}}
{{- $roles := list "ingress" "worker" "relay" "sender" }}
{{- if .Values.roles.scheduler.enabled }}{{ $roles = append $roles "scheduler" }}{{ end }}
{{- if .Values.roles.whatsapp.enabled }}{{ $roles = append $roles "whatsapp" }}{{ end }}
{{- toJson $roles }}
{{- end }}

{{/*
The port a role's process serves /healthz, /readyz and /metrics on: the HTTP port for
ingress (its HTTP server serves them), the admin port for every other role (chatgate serves
them on CHATGATE_ADMIN_ADDR in processes without ingress). Call with (dict "ctx" $ "role" …).
*/}}
{{- define "chatgate.probePort" -}}
{{- if eq .role "ingress" }}{{ .ctx.Values.ports.http }}{{ else }}{{ .ctx.Values.ports.admin }}{{ end }}
{{- end }}

{{/* The name of that port in the pod: http or admin. */}}
{{- define "chatgate.probePortName" -}}
{{- if eq .role "ingress" }}http{{ else }}admin{{ end }}
{{- end }}

{{/* Where the whatsapp role keeps inbound media. */}}
{{- define "chatgate.mediaDir" -}}
/var/lib/chatgate/media
{{- end }}

{{/*
Refuses values that cannot work, each with what to change. Included once, by the ConfigMap.
*/}}
{{- define "chatgate.validate" -}}
{{- $owned := list "CHATGATE_HTTP_ADDR" "CHATGATE_ADMIN_ADDR" "CHATGATE_WHATSAPP_MEDIA_DIR" }}
{{- $configured := list "CHATGATE_KAFKA_BROKERS" "CHATGATE_KAFKA_PARTITIONS" "CHATGATE_KAFKA_REPLICATION_FACTOR" "CHATGATE_TOPIC_PREFIX" "CHATGATE_PUBLIC_URL" "CHATGATE_LOG_LEVEL" "CHATGATE_STARTUP_TIMEOUT" "CHATGATE_SHUTDOWN_TIMEOUT" }}
{{- range $k, $_ := .Values.config.env }}
{{- if has $k (concat $owned $configured) }}
{{- fail (printf "config.env.%s: the chart sets %s itself; use the value under config or ports instead" $k $k) }}
{{- end }}
{{- end }}
{{- range $role, $r := .Values.roles }}
{{- range $r.extraEnv }}
{{- if has .name $owned }}
{{- fail (printf "roles.%s.extraEnv: the chart sets %s itself (from ports and the role)" $role .name) }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq .Values.ports.http .Values.ports.admin }}
{{- fail "ports.http and ports.admin must differ" }}
{{- end }}
{{- if gt (int .Values.roles.worker.replicaCount) (int .Values.config.kafkaPartitions) }}
{{- fail (printf "roles.worker.replicaCount=%v exceeds config.kafkaPartitions=%v: a worker beyond the partitions of the inbound topic idles" .Values.roles.worker.replicaCount .Values.config.kafkaPartitions) }}
{{- end }}
{{- if and .Values.roles.whatsapp.enabled (hasSuffix "-nowhatsapp" .Values.image.repository) }}
{{- fail (printf "roles.whatsapp.enabled with image %s: that variant has no WhatsApp channel; use the chatgate image or disable the whatsapp role" .Values.image.repository) }}
{{- end }}
{{- if and (not .Values.existingSecret) (not (get .Values.secret "CHATGATE_DATABASE_URL")) }}
{{- fail "set existingSecret to the Secret holding CHATGATE_DATABASE_URL and the tokens, or secret.CHATGATE_DATABASE_URL for the chart to make it" }}
{{- end }}
{{- end }}

{{/* The env every chatgate container reads: the ConfigMap, then the Secret. */}}
{{- define "chatgate.envFrom" -}}
- configMapRef:
    name: {{ include "chatgate.fullname" . }}
- secretRef:
    name: {{ include "chatgate.secretName" . }}
{{- end }}
