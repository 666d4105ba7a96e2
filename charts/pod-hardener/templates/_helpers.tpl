{{/* Object name: the release name if it contains the chart name, else <release>-<chart>. */}}
{{- define "pod-hardener.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "pod-hardener.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: immutable on a Deployment, so only these two. */}}
{{- define "pod-hardener.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pod-hardener.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pod-hardener.labels" -}}
{{ include "pod-hardener.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "pod-hardener.image" -}}
{{- $tag := .Values.image.tag | default (ternary "" .Chart.AppVersion (ne .Values.image.digest "")) -}}
{{- .Values.image.repository -}}
{{- if $tag }}:{{ $tag }}{{ end -}}
{{- if .Values.image.digest }}@{{ .Values.image.digest }}{{ end -}}
{{- end -}}

{{- define "pod-hardener.tlsSecretName" -}}
{{- if eq .Values.tls.mode "secret" -}}
{{- required "tls.secretName is required with tls.mode secret: an existing kubernetes.io/tls Secret in the release namespace" .Values.tls.secretName -}}
{{- else -}}
{{- printf "%s-tls" (include "pod-hardener.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "pod-hardener.annotationPrefix" -}}
{{- .Values.config.annotationPrefix | default "pod-hardener.io" -}}
{{- end -}}

{{- define "pod-hardener.port" -}}
{{- .Values.config.port | default 8443 -}}
{{- end -}}

{{/* The configuration file: what the chart decides (TLS, names), then every non-null config value. */}}
{{- define "pod-hardener.config" -}}
{{- $file := dict -}}
{{- if eq .Values.tls.mode "self-managed" -}}
{{- $_ := set $file "tlsMode" "self-managed" -}}
{{- $_ := set $file "tlsCertDir" "/tmp/pod-hardener-tls" -}}
{{- $_ := set $file "tlsSecretName" (include "pod-hardener.tlsSecretName" .) -}}
{{- $_ := set $file "webhookConfigurationName" (include "pod-hardener.fullname" .) -}}
{{- $_ := set $file "tlsServiceName" (include "pod-hardener.fullname" .) -}}
{{- else -}}
{{- $_ := set $file "tlsMode" "files" -}}
{{- $_ := set $file "tlsCertFile" "/etc/pod-hardener/tls/tls.crt" -}}
{{- $_ := set $file "tlsKeyFile" "/etc/pod-hardener/tls/tls.key" -}}
{{- end -}}
{{- range $key, $value := .Values.config -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $_ := set $file $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $file -}}
{{- end -}}
