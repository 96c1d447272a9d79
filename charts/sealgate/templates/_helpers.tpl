{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "sealgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, or release-chart when they differ. */}}
{{- define "sealgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sealgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sealgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sealgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sealgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The image: repository@digest when image.digest is set (immutable), else repository:tag. */}}
{{- define "sealgate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "sealgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sealgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sealgate.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "sealgate.fullname" .)) .Values.tls.secretName }}
{{- end }}

{{- define "sealgate.policyConfigMapName" -}}
{{- default (printf "%s-policy" (include "sealgate.fullname" .)) .Values.policy.existingConfigMap }}
{{- end }}

{{- define "sealgate.keysSecretName" -}}
{{- default (printf "%s-keys" (include "sealgate.fullname" .)) .Values.keys.existingSecret }}
{{- end }}

{{/* True when the webhook pods read namespace labels from the API server (token + RBAC needed). */}}
{{- define "sealgate.readsNamespaceLabels" -}}
{{- if .Values.namespaceLabels.enabled }}true{{- end }}
{{- end }}

{{/*
Render-time checks that a schema cannot express: the webhook timeout must stay above the server's own
deadline (or the API server gives up before sealgate answers, and failurePolicy decides instead), and the
webhook needs a CA to trust.
*/}}
{{- define "sealgate.validate" -}}
{{- $deadline := .Values.policy.settings.deadlineSeconds | float64 }}
{{- $timeout := .Values.webhook.timeoutSeconds | float64 }}
{{- if le $timeout $deadline }}
{{- fail (printf "webhook.timeoutSeconds (%v) must be above policy.settings.deadlineSeconds (%v): the API server would give up before sealgate answers" .Values.webhook.timeoutSeconds .Values.policy.settings.deadlineSeconds) }}
{{- end }}
{{- if and (not .Values.tls.certManager.enabled) (not .Values.tls.caBundle) }}
{{- fail "tls.caBundle is empty: set it to the caBundle `sealgate certs` prints (base64 of ca.crt), or set tls.certManager.enabled=true" }}
{{- end }}
{{- if and .Values.tls.certManager.enabled .Values.tls.caBundle }}
{{- fail "tls.caBundle and tls.certManager.enabled are exclusive: cert-manager injects the caBundle" }}
{{- end }}
{{- end }}

{{/* The webhook pods (the audit CronJob's pods share the release labels, not this component). */}}
{{- define "sealgate.webhookSelectorLabels" -}}
{{ include "sealgate.selectorLabels" . }}
app.kubernetes.io/component: webhook
{{- end }}
